"""Capture of fds 1/2 and of ``logging`` records, forwarded to the node as LOG frames.

User code that prints must never corrupt the protocol, and what it prints
should reach the node's logs. The socket is separate from fds 1/2 anyway; the
point of replacing them with pipes we read ourselves is that output of user
code, C extensions and child processes all ends up as ``LOG`` frames instead
of in a file the node only looks at when the worker dies.
"""

from __future__ import annotations

import asyncio
import contextvars
import io
import logging
import os
import sys
import threading
from typing import Any, Callable, List, Optional, Tuple

#: The :class:`~snakepit_worker.context.Context` of the request the current
#: code runs for. Set around each tool call; asyncio tasks inherit it, and the
#: runtime runs executor jobs inside a copied context so threads see it too.
CURRENT_CONTEXT: contextvars.ContextVar[Any] = contextvars.ContextVar(
    "snakepit_current_context", default=None
)

#: Longest line forwarded as one LOG frame; longer lines are split.
MAX_LINE_BYTES = 8 * 1024
#: A partial line (no newline yet) is flushed this long after it arrived.
PARTIAL_FLUSH_S = 0.1
#: Asked-for pipe capacity, so that a burst of output from code running on the
#: event loop (which is also the pipes' reader) does not block it.
PIPE_SIZE = 1024 * 1024
_F_SETPIPE_SZ = 1031  # Linux fcntl; absent from the fcntl module before 3.10

# (level, logger, message, correlation_id, session_id, request_id, stream) -> None.
# Must never block or raise: it is called from logging handlers in any thread.
LogSink = Callable[[str, str, str, Optional[str], Optional[str], int, Optional[str]], None]


class FrameLogHandler(logging.Handler):
    """A root-logger handler that turns records into LOG frames.

    Callable from any thread; it only formats the record and hands it to the
    sink, which sends the frame through the connection's non-blocking writer
    (or drops it when the node is not keeping up). It never blocks on the
    socket and never raises into the code that logged.
    """

    def __init__(self, sink: LogSink) -> None:
        super().__init__(logging.NOTSET)
        self._sink = sink
        # Guards against a record produced while sending a record (e.g. by
        # asyncio's own logger) recursing forever.
        self._local = threading.local()
        self.setFormatter(logging.Formatter("%(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        local = self._local
        if getattr(local, "busy", False):
            return
        local.busy = True
        try:
            message = self.format(record)
            ctx = CURRENT_CONTEXT.get()
            correlation_id = getattr(record, "correlation_id", None)
            session_id = getattr(record, "session_id", None)
            request_id = getattr(record, "request_id", None)
            if ctx is not None:
                if correlation_id is None:
                    correlation_id = ctx.correlation_id
                if session_id is None:
                    session_id = ctx.session_id
                if request_id is None:
                    request_id = ctx.request_id
            self._sink(record.levelname, record.name, message, correlation_id, session_id,
                       request_id if isinstance(request_id, int) else 0, None)
        except Exception:  # a log handler must never break the caller
            pass
        finally:
            local.busy = False

    def handleError(self, record: logging.LogRecord) -> None:
        """Swallows errors: there is nowhere sensible to report them."""


class LineForwarder(asyncio.Protocol):
    """Reads one redirected fd on the event loop and forwards it line by line."""

    def __init__(self, name: str, level: str, sink: LogSink,
                 loop: asyncio.AbstractEventLoop) -> None:
        self._name = name
        self._level = level
        self._sink = sink
        self._loop = loop
        self._buf = bytearray()
        self._timer: Optional[asyncio.TimerHandle] = None

    def data_received(self, data: bytes) -> None:
        buf = self._buf
        buf += data
        start = 0
        while True:
            nl = buf.find(b"\n", start)
            if nl < 0:
                break
            self._emit_bytes(buf, start, nl)
            start = nl + 1
        if start:
            del buf[:start]
        while len(buf) > MAX_LINE_BYTES:
            cut = MAX_LINE_BYTES
            # Back off to a UTF-8 character boundary so a split line does not
            # turn one character into two replacement characters.
            while cut > MAX_LINE_BYTES - 4 and (buf[cut] & 0xC0) == 0x80:
                cut -= 1
            self._emit(bytes(buf[:cut]))
            del buf[:cut]
        if buf and self._timer is None:
            self._timer = self._loop.call_later(PARTIAL_FLUSH_S, self._on_timer)

    def _emit_bytes(self, buf: bytearray, start: int, end: int) -> None:
        # Long complete lines are split like partial ones.
        while end - start > MAX_LINE_BYTES:
            cut = start + MAX_LINE_BYTES
            while cut > start + MAX_LINE_BYTES - 4 and (buf[cut] & 0xC0) == 0x80:
                cut -= 1
            self._emit(bytes(buf[start:cut]))
            start = cut
        self._emit(bytes(buf[start:end]))

    def _emit(self, raw: bytes) -> None:
        if raw.endswith(b"\r"):
            raw = raw[:-1]
        self._sink(self._level, self._name, raw.decode("utf-8", "replace"), None, None, 0,
                   self._name)

    def _on_timer(self) -> None:
        self._timer = None
        self.flush()

    def flush(self) -> None:
        """Forwards a pending partial line now (at exit, or from the timer)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._buf:
            raw = bytes(self._buf)
            self._buf.clear()
            self._emit(raw)

    def eof_received(self) -> Optional[bool]:
        self.flush()
        return None

    def connection_lost(self, exc: Optional[Exception]) -> None:
        self.flush()


#: The capture file behind the original stderr is cut back to empty past this
#: size, so a chatty worker cannot fill the disk; the node reads only its tail.
CAPTURE_LIMIT_BYTES = 1024 * 1024


class TeeStderr(io.TextIOBase):
    """``sys.stderr`` of a worker: forwarded as LOG frames, and also written at
    once to the original stderr, which the node captures to a file.

    The forwarded copy is lost when the process is killed before the loop has
    read it; the captured copy is not, because the kernel holds it. That is how
    a ``worker_crashed`` error can carry the last lines a tool wrote to stderr
    (a traceback, a message before ``os._exit``) even after SIGKILL.
    """

    def __init__(self, forwarded: io.TextIOBase, redirect: "StdioRedirect") -> None:
        super().__init__()
        self._forwarded = forwarded
        self._redirect = redirect
        self._captured = 0
        self._lock = threading.Lock()

    def write(self, s: str) -> int:
        n = self._forwarded.write(s)
        data = s.encode("utf-8", "backslashreplace")
        with self._lock:
            fd = self._redirect.orig_stderr_fd
            try:
                if self._captured + len(data) > CAPTURE_LIMIT_BYTES:
                    # The fd is O_APPEND: after truncation, writes start again at 0.
                    os.ftruncate(fd, 0)
                    self._captured = 0
                view = memoryview(data)
                while view:
                    written = os.write(fd, view)
                    view = view[written:]
                self._captured += len(data)
            except OSError:
                pass  # the capture is best effort; the forwarded copy still goes out
        return n

    def flush(self) -> None:
        self._forwarded.flush()

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self._forwarded.fileno()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return "utf-8"

    def isatty(self) -> bool:
        return False


class StdioRedirect:
    """Owns the pipes that replace fds 1 and 2, and the saved original stderr."""

    def __init__(self) -> None:
        self.orig_stderr_fd: int = 2
        self.orig_stderr: Optional[io.TextIOBase] = None
        self._read_fds: List[Tuple[int, str, str]] = []
        self._forwarders: List[Tuple[int, LineForwarder]] = []
        self.active = False

    def redirect(self) -> None:
        """Saves fd 2, then points fds 1 and 2 at fresh pipes and rebinds sys.stdout/stderr."""
        for stream in (sys.stdout, sys.stderr):
            try:
                if stream is not None:
                    stream.flush()
            except Exception:
                pass
        # os.dup returns a non-inheritable fd, so tools' child processes do not
        # get a handle on the node's capture of our stderr.
        self.orig_stderr_fd = os.dup(2)
        self.orig_stderr = open(self.orig_stderr_fd, "w", buffering=1, encoding="utf-8",
                                errors="backslashreplace", closefd=False)
        for fd, name, level in ((1, "stdout", "INFO"), (2, "stderr", "WARNING")):
            r, w = os.pipe()
            try:
                import fcntl

                fcntl.fcntl(w, _F_SETPIPE_SZ, PIPE_SIZE)
            except (ImportError, OSError):
                pass  # not Linux, or above pipe-max-size: the default size will do
            os.dup2(w, fd)  # inheritable: child processes' output is captured too
            os.close(w)
            self._read_fds.append((r, name, level))
        sys.stdout = open(1, "w", buffering=1, encoding="utf-8", errors="backslashreplace",
                          closefd=False)
        sys.stderr = TeeStderr(open(2, "w", buffering=1, encoding="utf-8",
                                    errors="backslashreplace", closefd=False), self)
        # input() in a tool would otherwise read the node's lifeline pipe.
        try:
            sys.stdin = open(os.devnull, "r")
        except OSError:
            pass
        self.active = True

    async def start_forwarding(self, loop: asyncio.AbstractEventLoop, sink: LogSink) -> None:
        """Starts reading the pipes on ``loop`` (no threads)."""
        for r, name, level in self._read_fds:
            forwarder = LineForwarder(name, level, sink, loop)
            await loop.connect_read_pipe(lambda f=forwarder: f,  # type: ignore[misc]
                                         os.fdopen(r, "rb", buffering=0))
            self._forwarders.append((r, forwarder))

    def drain(self) -> None:
        """Forwards everything written so far, partial lines included (used before exiting)."""
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:
                pass
        for r, forwarder in self._forwarders:
            while True:
                try:
                    data = os.read(r, 65536)  # non-blocking: connect_read_pipe set it so
                except (BlockingIOError, InterruptedError):
                    break
                except OSError:
                    break
                if not data:
                    break
                forwarder.data_received(data)
            forwarder.flush()

    def write_fatal(self, message: str) -> None:
        """Writes to the original stderr, which the node captures; never raises."""
        if not message.endswith("\n"):
            message += "\n"
        try:
            data = message.encode("utf-8", "backslashreplace")
            while data:
                n = os.write(self.orig_stderr_fd, data)
                data = data[n:]
        except OSError:
            pass
