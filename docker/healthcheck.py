#!/usr/bin/env python3
"""The image's HEALTHCHECK: healthy (exit 0) while the node's ``GET /ready`` answers 200.

``/ready`` needs no token (docs/security.md), answers 503 while the node starts or drains, and
names the failing check otherwise, which this prints for ``docker inspect``. The node's own
certificate is not verified over TLS: this asks the node on its loopback address, which the
certificate does not name.
"""

import os
import ssl
import sys
import urllib.error
import urllib.request


def ready_url() -> str:
    explicit = os.environ.get("SNAKEPIT_HEALTHCHECK_URL")
    if explicit:
        return explicit
    port = os.environ.get("SNAKEPIT_HTTP_PORT", "8080")
    scheme = "https" if os.environ.get("SNAKEPIT_TLS__CERT") else "http"
    return f"{scheme}://127.0.0.1:{port}/ready"


def main() -> int:
    url = ready_url()
    context = ssl._create_unverified_context() if url.startswith("https:") else None
    try:
        with urllib.request.urlopen(url, timeout=2, context=context) as answer:
            return 0 if answer.status == 200 else 1
    except urllib.error.HTTPError as e:
        print(f"{url}: {e.code} {e.read(500).decode('utf-8', 'replace')}")
    except OSError as e:
        print(f"{url}: {e}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
