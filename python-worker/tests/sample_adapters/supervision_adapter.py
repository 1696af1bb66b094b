"""An adapter for the node's supervision tests (spec "supervision_adapter:SupervisionAdapter").

The Java tests in verticles/ put this directory on the workers' python-path.
Each tool shows the node one thing it cannot see from outside: the settings a
worker got, how far a generator ran, or a worker that misbehaves on purpose.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from typing import Any, Dict, Iterator, List

from snakepit_worker import Adapter, tool

#: How many items the current ``produce`` generator has made (per process).
_PRODUCED = {"n": 0}
#: Memory that ``hold_memory`` keeps alive.
_HELD: List[bytearray] = []


class SupervisionAdapter(Adapter):
    def setup(self) -> None:
        fake = os.environ.get("SUPERVISION_ADAPTER_FAKE_RSS")
        if fake is not None:
            # Under-report the RSS in every PONG, so a test can tell whether the
            # node trusts the worker's figure or reads the process's own.
            from snakepit_worker import runtime

            runtime.read_rss = lambda: int(fake)

    @tool
    def environment(self, names: List[str]) -> Dict[str, Any]:
        """The values of the environment variables ``names`` (None when unset)."""
        return {n: os.environ.get(n) for n in names}

    @tool
    def where(self) -> Dict[str, str]:
        """This process's working directory and Python executable."""
        return {"cwd": os.getcwd(), "executable": sys.executable}

    @tool
    def say(self, out: str, err: str) -> bool:
        """Writes one line to stdout and one to stderr, as user code might."""
        print(out, flush=True)
        print(err, file=sys.stderr, flush=True)
        return True

    @tool
    def produce(self, n: int) -> Iterator[int]:
        """Streams 0..n-1, counting how far the generator got."""
        _PRODUCED["n"] = 0
        for i in range(n):
            _PRODUCED["n"] = i + 1
            yield i

    @tool
    def produced(self) -> int:
        """How many items the last ``produce`` generator has made so far."""
        return _PRODUCED["n"]

    @tool
    def hold_memory(self, mb: int) -> int:
        """Allocates ``mb`` MiB, touches every page so it is resident, and keeps it."""
        _HELD.append(bytearray(b"\x01") * (mb * 1024 * 1024))
        return sum(len(b) for b in _HELD) >> 20

    @tool
    async def obstinate(self) -> None:
        """Ignores SIGTERM, then blocks the worker's event loop for ten minutes.

        Async tools run on the loop, in the main thread, which is where a signal
        disposition can be set. With the loop blocked, the worker cannot act on
        SHUTDOWN or its deadline, nor notice its closed stdin: only SIGKILL ends it.
        """
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        time.sleep(600)
