"""Entry point: ``python3 -m snakepit_worker``, started by a Snakepit node.

Order matters (docs/protocol.md, "Handshake"): read the environment, import
the adapter and run its ``setup()``, and only then connect, so that a worker
that says HELLO can serve at once and a broken adapter fails before the node
counts the worker as started.
"""

from __future__ import annotations

import gc
import os
import sys
import traceback
from typing import Mapping, Optional


def main(env: Optional[Mapping[str, str]] = None) -> int:
    """Runs a worker; returns an exit status only on a startup failure."""
    from .config import ConfigError, config_from_env

    try:
        config = config_from_env(os.environ if env is None else env)
    except ConfigError as exc:
        sys.stderr.write(f"snakepit worker: invalid environment: {exc}\n")
        return 2

    try:
        from .adapter import load_adapter

        adapter = load_adapter(config.adapter)
        adapter.setup()
    except BaseException:  # SystemExit/KeyboardInterrupt from user code too
        sys.stderr.write(
            f"snakepit worker {config.worker_id}: adapter {config.adapter!r} failed to load:\n"
        )
        traceback.print_exc()
        sys.stderr.flush()
        return 3

    # Everything imported so far lives as long as the process; moving it out
    # of the collector's generations makes later collections cheaper.
    gc.collect()
    if hasattr(gc, "freeze"):
        gc.freeze()

    from .runtime import WorkerRuntime

    WorkerRuntime(config, adapter).run()
    return 1  # not reached: run() ends the process


if __name__ == "__main__":
    status = main()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass
    # os._exit: adapter threads (non-daemon) must not keep a failed worker alive.
    os._exit(status)
