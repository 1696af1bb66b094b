"""Demo adapter used by tests, benchmarks and the quick start.

Spec: ``snakepit_worker.demo:DemoAdapter``. Every kind of tool is here: sync,
``async def``, sync and async generators (streams), tools that fail, hang,
crash, print, log, and use the session.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import signal
import sys
import threading
import time
from typing import Any, AsyncIterator, Dict, Iterator, Optional

from .adapter import Adapter, tool
from .context import Context

_PATTERN = bytes(range(256))


def _describe(value: Any) -> Dict[str, Any]:
    """The type of ``value``, and the length and SHA-256 of its bytes when it is bytes or str."""
    described: Dict[str, Any] = {"type": type(value).__name__}
    if isinstance(value, (bytes, bytearray, memoryview)):
        raw = bytes(value)
    elif isinstance(value, str):
        raw = value.encode("utf-8")
    else:
        return described
    described["length"] = len(raw)
    described["sha256"] = hashlib.sha256(raw).hexdigest()
    return described


class DemoAdapter(Adapter):
    """Tools that exercise every feature of the worker runtime."""

    def setup(self) -> None:
        # Per-process memory keyed by session id: shows session affinity (the
        # node should route a session's calls to the worker that holds it).
        self._memory: Dict[str, Any] = {}
        self._lock = threading.Lock()

    def on_session_closed(self, session_id: str) -> None:
        with self._lock:
            self._memory.pop(session_id, None)

    # -- basics ------------------------------------------------------------

    @tool
    def echo(self, **args: Any) -> Dict[str, Any]:
        """Returns its arguments unchanged."""
        return args

    @tool
    def add(self, a: Any, b: Any) -> Any:
        """Returns a + b."""
        return a + b

    @tool
    def noop(self) -> None:
        """Does nothing; for measuring the call overhead."""
        return None

    @tool
    def info(self, ctx: Context) -> Dict[str, Any]:
        """Returns this worker's pid, Python version, worker id and node id."""
        return {
            "pid": os.getpid(),
            "python": sys.version.split()[0],
            "worker_id": ctx.worker_id,
            "node_id": ctx.node_id,
        }

    @tool
    def bytes_echo(self, size: int = 0, data: Optional[bytes] = None) -> bytes:
        """Returns ``data`` if given, else ``size`` bytes of a repeating 0..255 pattern."""
        if data is not None:
            return data
        return (_PATTERN * (size // 256 + 1))[:size]

    @tool
    def digest(self, data: Any, **more: Any) -> Dict[str, Any]:
        """Describes ``data`` (and each of ``more``): its Python type, length and SHA-256.

        Shows what a tool receives: ``bytes`` for a binary part of a multipart
        request (docs/http-api.md), ``str`` for a JSON string.
        """
        described = {"data": _describe(data)}
        for name, value in more.items():
            described[name] = _describe(value)
        return described

    # -- time, cancellation, failure ---------------------------------------

    @tool
    def sleep(self, ms: float, ctx: Context) -> Dict[str, Any]:
        """Sleeps ``ms`` milliseconds, stopping early (cancelled) if the node cancels."""
        deadline = time.monotonic() + ms / 1000.0
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return {"slept_ms": ms}
            # Wakes at once on cancel; the 10 ms cap keeps the check periodic
            # even if someone replaces the event-based wait with polling.
            if ctx.wait_cancelled(min(remaining, 0.01)):
                ctx.raise_if_cancelled()

    @tool
    def hang(self, ms: float) -> Dict[str, Any]:
        """Blocks ``ms`` milliseconds in one ``time.sleep``, ignoring cancellation."""
        time.sleep(ms / 1000.0)
        return {"hung_ms": ms}

    @tool
    def fail(self, message: str = "boom") -> None:
        """Raises ``RuntimeError(message)``."""
        raise RuntimeError(message)

    @tool
    def crash(self, code: Optional[int] = None, message: Optional[str] = None) -> None:
        """Kills this worker process at once: SIGKILL, or ``os._exit(code)`` if code is given.

        With ``message``, writes it to stderr first, as a dying program would.
        """
        if message is not None:
            print(message, file=sys.stderr, flush=True)
        if code is not None:
            os._exit(int(code))
        os.kill(os.getpid(), signal.SIGKILL)

    # -- streams -------------------------------------------------------------

    @tool
    def count(self, n: int, ctx: Context, delay_ms: float = 0) -> Iterator[Dict[str, int]]:
        """Streams ``{"i": i}`` for i in range(n), waiting ``delay_ms`` between items."""
        for i in range(n):
            if delay_ms and ctx.wait_cancelled(delay_ms / 1000.0):
                return
            yield {"i": i}

    # -- output and logs ---------------------------------------------------

    @tool
    def log(self, message: str, ctx: Context) -> bool:
        """Logs ``message`` at INFO through ``ctx.logger``."""
        ctx.logger.info(message)
        return True

    @tool
    def print_noise(self, lines: int = 100) -> str:
        """Prints junk, including bytes shaped like protocol frames, to stdout and stderr."""
        # A plausible RESULT frame header and body, as raw bytes and as text.
        fake_frame = b"\x00\x00\x00\x15\x05\x00\x00\x00\x01\x00\x00\x00\x0c{\"result\":1}"
        for i in range(lines):
            print(f"noise stdout {i} \x00\x05 {{\"result\": {i}}}")
            print(f"noise stderr {i} \x00\x06", file=sys.stderr)
        sys.stdout.flush()
        sys.stdout.buffer.write(fake_frame + b"\n")
        sys.stdout.flush()
        os.write(1, b"raw fd1 " + fake_frame + b"\n")
        os.write(2, b"raw fd2 " + fake_frame + b"\n")
        print("partial line without newline", end="", flush=True)
        return "ok"

    # -- session -------------------------------------------------------------

    @tool
    def incr(self, name: str, ctx: Context) -> int:
        """Adds 1 to the session variable ``name`` (read-modify-write) and returns it."""
        value = int(ctx.session.get(name, 0)) + 1
        ctx.session.set(name, value)
        return value

    @tool
    def tally(self, name: str, ctx: Context, by: int = 1) -> int:
        """Adds ``by`` to the session counter ``name`` and returns it: exact even across partitions."""
        return ctx.session.incr(name, by)

    @tool
    def remember(self, value: Any, ctx: Context) -> Dict[str, Any]:
        """Keeps ``value`` in this process's memory, keyed by the session id."""
        session_id = ctx.session.id  # raises SessionUnavailableError without a session
        with self._lock:
            self._memory[session_id] = value
        return {"worker_id": ctx.worker_id}

    def export_session(self, session_id: str) -> Optional[bytes]:
        """Hands what :meth:`remember` kept for a session to the session's next worker."""
        with self._lock:
            if session_id not in self._memory:
                return None
            return json.dumps(self._memory[session_id]).encode("utf-8")

    def import_session(self, session_id: str, data: bytes) -> None:
        with self._lock:
            self._memory[session_id] = json.loads(data.decode("utf-8"))

    @tool
    def recall(self, ctx: Context) -> Dict[str, Any]:
        """Returns what :meth:`remember` kept for this session in this process."""
        session_id = ctx.session.id
        with self._lock:
            value = self._memory.get(session_id)
        return {"value": value, "worker_id": ctx.worker_id}

    # -- async ---------------------------------------------------------------

    @tool
    async def async_echo(self, **args: Any) -> Dict[str, Any]:
        """Async variant of echo."""
        await asyncio.sleep(0)
        return args

    @tool
    async def async_noop(self) -> None:
        """Async no-op: runs on the event loop, so no thread hand-off (for benchmarks)."""
        return None

    @tool
    async def async_count(self, n: int, delay_ms: float = 0) -> AsyncIterator[Dict[str, int]]:
        """Async variant of count."""
        for i in range(n):
            if delay_ms:
                await asyncio.sleep(delay_ms / 1000.0)
            yield {"i": i}
