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
from typing import TYPE_CHECKING, Mapping, Optional

if TYPE_CHECKING:
    from .adapter import LoadedAdapter
    from .config import WorkerConfig


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
    except BaseException:  # SystemExit/KeyboardInterrupt from user code too
        return _adapter_failed(config.worker_id, config.adapter)
    return serve(config, adapter)


def serve(config: "WorkerConfig", adapter: "LoadedAdapter") -> int:
    """Runs the adapter's ``setup()`` and serves; returns an exit status only on a failure.

    Spawned workers come here from :func:`main`; forked ones from the
    forkserver, with the adapter it imported before forking.
    """
    try:
        adapter.setup()
    except BaseException:  # SystemExit/KeyboardInterrupt from user code too
        return _adapter_failed(config.worker_id, config.adapter)

    # Everything imported so far lives as long as the process; moving it out
    # of the collector's generations makes later collections cheaper.
    gc.collect()
    if hasattr(gc, "freeze"):
        gc.freeze()

    from .runtime import WorkerRuntime

    WorkerRuntime(config, adapter).run()
    return 1  # not reached: run() ends the process


def _adapter_failed(worker_id: str, spec: str) -> int:
    sys.stderr.write(f"snakepit worker {worker_id}: adapter {spec!r} failed to load:\n")
    traceback.print_exc()
    sys.stderr.flush()
    return 3


if __name__ == "__main__":
    status = main()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass
    # os._exit: adapter threads (non-daemon) must not keep a failed worker alive.
    os._exit(status)
