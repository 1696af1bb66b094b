"""The worker runtime: serves the adapter's tools over the node connection.

Threading model
    The main thread runs an asyncio event loop: ``async def`` tools and
    async generators run there as tasks, and it reads the stdout/stderr
    pipes and the stdin lifeline, runs the parent-pid check and flushes
    output the socket did not take at once. The socket is read by
    :class:`_Reader`: for adapters with plain functions (on Linux), two I/O
    threads take turns in a blocking ``recv``, answer PING themselves, and
    run a plain function *inline* on the thread that read its REQUEST while
    the other one keeps reading; further concurrent plain functions and sync
    generators run in a ``ThreadPoolExecutor(max_workers=concurrency)``. For
    all-async adapters the event loop reads the socket itself. Frames are
    written through :class:`_NodeSocket` from whatever thread produced them.

Hot path (a no-op plain function)
    blocking ``recv`` on an I/O thread -> incremental decoder (parses in
    place, C JSON scanner) -> dict lookup of the tool -> argument check with
    precomputed name sets (no ``Signature.bind``) -> arm the standby (one
    ``epoll_ctl``) -> tool, inline -> C JSON encoder -> one ``send`` ->
    disarm the standby -> ``recv``. No thread hand-off and no event loop.

Exit statuses
    0 graceful shutdown, connection closed, stdin EOF or parent gone;
    2 bad environment; 3 adapter import/setup failed; 4 rejected by the node;
    5 protocol error; 6 cannot connect; 1 internal error.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import contextvars
import faulthandler
import itertools
import logging
import os
import select
import signal
import socket
import stat
import sys
import threading
import traceback
from typing import Any, Callable, Deque, Dict, List, NoReturn, Optional, Tuple

from . import protocol as P
from .adapter import LoadedAdapter, ToolSpec
from .config import WorkerConfig
from .context import TOOLS_LOGGER_NAME, Context, NodeLink
from .errors import NodeCallError, ToolCancelled
from .stdio import CURRENT_CONTEXT, FrameLogHandler, StdioRedirect

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_CONFIG = 2
EXIT_ADAPTER = 3
EXIT_REJECTED = 4
EXIT_PROTOCOL = 5
EXIT_CONNECT = 6

#: How often the parent pid is compared with SNAKEPIT_PARENT_PID.
PARENT_CHECK_S = 0.5
#: Used when SHUTDOWN has no usable deadline_ms.
DEFAULT_SHUTDOWN_MS = 10_000
#: Queued output above which streams stop advancing their generators.
WRITE_HIGH_WATER = 1024 * 1024
#: Above this many unsent bytes, LOG frames are dropped (and counted) rather
#: than letting a log flood grow memory without bound.
LOG_DROP_BUFFER = 8 * 1024 * 1024
#: Longest log message forwarded; the rest is cut.
MAX_LOG_MESSAGE = 256 * 1024
#: Longest traceback sent in an ERROR frame (the tail is kept).
MAX_TRACEBACK = 64 * 1024
MAX_ERROR_MESSAGE = 16 * 1024

_INTERNAL_ERROR = "internal error in the worker runtime:\n"
_RUNTIME_FILE = os.path.normcase(os.path.abspath(__file__))
_log = logging.getLogger("snakepit.worker")
#: Sends never block (the socket itself is blocking, for the reader's recv).
#: Every POSIX system has MSG_DONTWAIT.
_DONTWAIT = getattr(socket, "MSG_DONTWAIT", 0)


def _qualified_name(exc_type: type) -> str:
    """``RuntimeError`` for builtins, ``package.module.Class`` otherwise."""
    module = getattr(exc_type, "__module__", None)
    if module in (None, "builtins"):
        return exc_type.__qualname__
    return f"{module}.{exc_type.__qualname__}"


def _safe_str(exc: BaseException) -> str:
    try:
        text = str(exc)
    except Exception:
        text = f"<unprintable {type(exc).__name__}>"
    if len(text) > MAX_ERROR_MESSAGE:
        text = text[:MAX_ERROR_MESSAGE] + f"... [{len(text) - MAX_ERROR_MESSAGE} chars cut]"
    return text


def _format_traceback(exc: BaseException) -> str:
    """The traceback without the runtime's own frames at its top."""
    tb = exc.__traceback__
    while tb is not None and os.path.normcase(tb.tb_frame.f_code.co_filename) == _RUNTIME_FILE:
        tb = tb.tb_next
    text = "".join(traceback.format_exception(type(exc), exc, tb))
    if len(text) > MAX_TRACEBACK:
        text = "... [traceback cut]\n" + text[-MAX_TRACEBACK:]
    return text


def read_rss() -> Optional[int]:
    """Resident set size in bytes: /proc/self/statm, else ru_maxrss (a peak, not current)."""
    try:
        with open("/proc/self/statm", "rb") as f:
            fields = f.read().split()
        return int(fields[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        pass
    try:
        import resource

        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        # kilobytes on Linux, bytes on macOS
        return rss if sys.platform == "darwin" else rss * 1024
    except Exception:
        return None


class _Call:
    """One running request."""

    __slots__ = ("id", "spec", "ctx", "task", "credit", "cond", "event", "finished",
                 "cancel_requested")

    def __init__(self, fid: int, spec: ToolSpec, ctx: Context) -> None:
        self.id = fid
        self.spec = spec
        self.ctx = ctx
        self.task: Optional[asyncio.Task] = None
        self.credit = 0
        # Sync streams wait for credit on a Condition (thread side);
        # async streams on an asyncio.Event (loop side).
        self.cond: Optional[threading.Condition] = None
        self.event: Optional[asyncio.Event] = None
        # Both guarded by WorkerRuntime._lock: together they decide whether
        # the answer is the tool's or "cancelled".
        self.finished = False
        self.cancel_requested = False


#: A plain-function call ready to run: its context, the call, the arguments.
_SyncJob = Tuple[contextvars.Context, _Call, Dict[str, Any]]


class _NodeSocket:
    """The node connection: read by the I/O threads, written from any thread.

    Reading: see :class:`_Reader`. The socket stays in blocking mode for
    the reader's ``recv``; every ``send`` passes ``MSG_DONTWAIT`` instead,
    so writers never block.

    Writing needs no trip through a loop: a thread appends its frame to a
    queue, and whoever holds the send lock sends everything queued, joined
    into one ``send``. The lock is only ever *tried*, never waited for: a
    writer that finds it taken leaves its frame to the holder, which looks
    at the queue again after releasing it. So the thread that ran a tool
    puts its own RESULT on the wire, and under load frames are batched
    instead of convoying on a lock. What the kernel does not take at once is
    kept in ``_out`` and flushed by the event loop when the socket turns
    writable. Frames are never interleaved: each is appended whole, and the
    queue is FIFO.
    """

    def __init__(self, runtime: "WorkerRuntime", sock: socket.socket,
                 loop: asyncio.AbstractEventLoop) -> None:
        self._rt = runtime
        self._sock = sock
        self._fd = sock.fileno()
        self._loop = loop
        self._lock = threading.Lock()
        self._queue: Deque[bytes] = collections.deque()  # append/popleft are atomic
        self._out = bytearray()  # unsent bytes; only touched under _lock
        self._armed = False  # add_writer registered (or about to be); under _lock

    @property
    def buffered(self) -> int:
        """Bytes written but not yet taken by the kernel (approximately)."""
        return len(self._out)

    def write(self, data: bytes) -> None:
        """Sends one whole frame; any thread, never blocks."""
        self._queue.append(data)
        self._flush()

    def _flush(self) -> None:
        queue = self._queue
        lock = self._lock
        arm = broken = False
        while queue:
            if not lock.acquire(False):
                return  # the holder will see our frame when it re-checks the queue
            try:
                if self._out:
                    # Already waiting for the socket: the loop's writer sends these.
                    while queue:
                        self._out += queue.popleft()
                    continue
                if len(queue) == 1:
                    data = queue.popleft()
                else:
                    parts = []
                    while queue:
                        parts.append(queue.popleft())
                    data = b"".join(parts)
                try:
                    n = self._sock.send(data, _DONTWAIT)
                except (BlockingIOError, InterruptedError):
                    n = 0
                except OSError:
                    broken = True
                    continue
                if n < len(data):
                    self._out += memoryview(data)[n:]
                    if not self._armed:
                        self._armed = arm = True
            finally:
                lock.release()
        if broken:
            self._rt.die(EXIT_OK, None)  # connection gone
        if arm:
            if threading.get_ident() == self._rt._loop_thread:
                self._loop.add_writer(self._fd, self._on_writable)
            else:
                try:
                    self._loop.call_soon_threadsafe(self._loop.add_writer, self._fd,
                                                    self._on_writable)
                except RuntimeError:
                    pass  # loop closed: the process is exiting

    def _on_writable(self) -> None:
        broken = False
        with self._lock:
            try:
                n = self._sock.send(self._out, _DONTWAIT)
            except (BlockingIOError, InterruptedError):
                n = 0
            except OSError:
                broken = True
                n = 0
            del self._out[:n]
            if not self._out:
                self._loop.remove_writer(self._fd)
                self._armed = False
        if broken:
            self._rt.die(EXIT_OK, None)
        self._flush()  # frames queued while we held the lock


class _Reader:
    """Reads the node connection and dispatches its frames, in one of two modes.

    **Thread mode** (Linux, adapters with plain-function tools). Two I/O
    threads take turns holding the *reader role*. The holder sits in a
    blocking ``recv`` (no event loop, no ``select``: one syscall per
    wake-up) and dispatches the frames itself. When a read holds a
    plain-function REQUEST, the holder runs that tool *inline*, on its own
    thread, instead of handing it to the thread pool: that hand-off (queue,
    wake another thread, GIL switch) was most of the cost of a no-op call.

    The socket must still be read while the tool runs, for PING, CANCEL and
    CALL_RESULT. So before running it, the holder gives the role up to the
    other I/O thread, the *standby*, which waits in ``epoll_wait`` on the
    socket. Handing over wakes nobody: it only arms the socket in that epoll
    set (``EPOLLIN | EPOLLONESHOT``). The standby wakes only if a frame
    arrives while the tool runs; then it takes the role and reads. If
    nothing came, the holder disarms the socket after the tool and reads on;
    otherwise it becomes the standby itself. A holder runs a tool inline
    only while the other thread is on standby, so one thread is always free
    to read: a busy or stuck tool never delays a PONG (only a process that
    cannot run Python at all, GIL held or stopped, stays silent). Async
    tools still run on the event loop, reached with one thread hop.

    **Loop mode** (adapters whose tools are all ``async``, or no
    ``select.epoll``). The event loop reads the socket (``add_reader``), so
    async tools start without a thread hop, and plain functions, if any,
    go to the thread pool.
    """

    #: recv size when no large frame is pending. Below glibc's mmap
    #: threshold: a 256 KiB recv buffer cost an mmap/munmap pair per call.
    READ_SIZE = 64 * 1024

    def __init__(self, runtime: "WorkerRuntime", sock: socket.socket) -> None:
        self._rt = runtime
        self._sock = sock
        self._fd = sock.fileno()
        self._decoder = P.FrameDecoder(runtime.config.max_frame_bytes)
        self._role = threading.Lock()  # guards _free and _standby
        self._free = False  # the role is released: the standby may take it
        self._standby = False  # a thread waits in _wait_for_role
        self._epoll: Any = None
        # The reserved handoff tools are rare and may take the slower path; they do not decide it.
        has_sync = any(not spec.is_async for name, spec in runtime.adapter.tools.items()
                       if not name.startswith("__snakepit_"))
        self.loop_mode = not (has_sync and hasattr(select, "epoll"))
        if not self.loop_mode:
            self._epoll = select.epoll()
            # Registered disarmed. EPOLLONESHOT also applies to the
            # EPOLLHUP/EPOLLERR the kernel always reports, so a closed socket
            # wakes the standby at most once instead of spinning it.
            self._epoll.register(self._fd, select.EPOLLONESHOT)

    def start(self) -> None:
        """Starts reading: the loop's reader, or the I/O threads (the first holds the role)."""
        if self.loop_mode:
            self._rt._loop.add_reader(self._fd, self._on_readable)
            return
        for i in range(2):
            threading.Thread(target=self._thread_main, args=(i == 0,),
                             name=f"snakepit-io-{i}", daemon=True).start()

    def _recv(self, flags: int = 0) -> bytes:
        missing = self._decoder.missing
        size = self.READ_SIZE if missing <= self.READ_SIZE else missing
        try:
            data = self._sock.recv(size, flags)
        except (BlockingIOError, InterruptedError):
            raise
        except OSError:
            data = b""
        if not data:
            # (a) of parent-death detection: the node closed us or died.
            self._rt.die(EXIT_OK, None)
        return data

    def _process(self, data: bytes) -> Optional[_SyncJob]:
        """Dispatches the frames ``data`` completes; returns a plain-function call to run.

        If the read holds several, all but the last go to the thread pool.
        """
        rt = self._rt
        job = None
        rt._loop_batch = batch = []
        try:
            for frame in self._decoder.feed(data):
                found = rt._dispatch(frame)
                if found is not None:
                    if job is not None:
                        rt._submit(job)
                    job = found
        except P.ProtocolError as exc:
            rt.die(EXIT_PROTOCOL, f"protocol error from node: {exc}; closing")
        rt._loop_batch = None
        if batch:
            if self.loop_mode:
                rt._run_batch(batch)
            else:
                rt._loop.call_soon_threadsafe(rt._run_batch, batch)
        return job

    # -- loop mode ---------------------------------------------------------

    def _on_readable(self) -> None:
        try:
            job = self._process(self._recv(_DONTWAIT))
            if job is not None:
                self._rt._submit(job)
        except (BlockingIOError, InterruptedError):
            return
        except Exception:
            self._rt.die(EXIT_INTERNAL, _INTERNAL_ERROR + traceback.format_exc())

    # -- thread mode -------------------------------------------------------

    def _thread_main(self, holder: bool) -> None:
        try:
            while True:
                if not holder:
                    self._wait_for_role()
                self._read_until_handover()
                holder = False
        except BaseException:
            self._rt.die(EXIT_INTERNAL, _INTERNAL_ERROR + traceback.format_exc())

    def _wait_for_role(self) -> None:
        """Standby: blocks until the holder released the role and a frame arrived."""
        role = self._role
        poll = self._epoll.poll
        while True:
            with role:
                self._standby = True
            poll()
            with role:
                if self._free:
                    self._free = False
                    self._standby = False
                    return
            # Woken after the holder took the role back (a frame crossed its
            # disarm), or by a hang-up the holder's recv handles: wait again.

    def _release(self) -> bool:
        """Gives the role to the standby, if there is one; True if it did."""
        with self._role:
            if not self._standby:
                return False
            self._free = True
            self._epoll.modify(self._fd, select.EPOLLIN | select.EPOLLONESHOT)
        return True

    def _take_back(self) -> bool:
        """After an inline tool: keeps the role if the standby did not take it."""
        with self._role:
            if not self._free:
                return False
            self._free = False
            self._epoll.modify(self._fd, select.EPOLLONESHOT)  # disarm
        return True

    def _read_until_handover(self) -> None:
        """Reads and dispatches frames while this thread holds the role."""
        rt = self._rt
        recv = self._recv
        process = self._process
        while True:
            job = process(recv())
            if job is None:
                continue
            if not self._release():
                rt._submit(job)  # the other I/O thread runs a tool: cannot hand over
                continue
            job[0].run(rt._run_sync, job[1], job[2])
            if not self._take_back():
                return  # the standby reads now; this thread becomes the standby


class _Lifeline(asyncio.Protocol):
    """Reads stdin, whose write end only the node holds; EOF means the node is gone.

    The kernel closes that end whatever way the node dies, SIGKILL included.
    """

    def __init__(self, runtime: "WorkerRuntime") -> None:
        self._rt = runtime

    def data_received(self, data: bytes) -> None:
        pass  # the node sends nothing; ignore anything that comes

    def eof_received(self) -> Optional[bool]:
        self._rt.die(EXIT_OK, None)
        return None

    def connection_lost(self, exc: Optional[Exception]) -> None:
        self._rt.die(EXIT_OK, None)


class WorkerRuntime(NodeLink):
    """Connects to the node and serves the adapter's tools until told or forced to stop.

    Construct it with an adapter whose ``setup`` already ran, then call
    :meth:`run`, which never returns: the process ends with ``os._exit`` so
    that tool threads stuck in user code cannot keep it alive.
    """

    def __init__(self, config: WorkerConfig, adapter: LoadedAdapter) -> None:
        self.config = config
        self.adapter = adapter
        self._tools: Dict[str, ToolSpec] = adapter.tools
        self._tool_names: List[str] = sorted(n for n in adapter.tools if not n.startswith("__snakepit_"))
        # Set once, first thing in _main, before anything can use it.
        self._loop: asyncio.AbstractEventLoop = None  # type: ignore[assignment]
        self._loop_thread: Optional[int] = None
        self._sock: Optional[_NodeSocket] = None
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=config.concurrency, thread_name_prefix="snakepit-tool"
        )
        # Guards _calls and each call's finished/cancel_requested pair; held
        # only for a few dict operations, never around user code or I/O.
        self._lock = threading.Lock()
        self._calls: Dict[int, _Call] = {}
        # Loop calls of the batch of frames being dispatched (see _to_loop);
        # only the I/O thread holding the reader role sets it.
        self._loop_batch: Optional[List[Any]] = None
        self._pending: Dict[int, Any] = {}  # CALL id -> concurrent or asyncio Future
        self._call_ids = itertools.count()
        self._peer_max = config.max_frame_bytes
        self._welcome: Optional[asyncio.Future] = None
        self._ready = False
        self._shutting_down = False
        self._exiting = False
        self._stdio = StdioRedirect()
        self._log_dropped = 0
        self._forked_child = False
        self._parent_pid = config.parent_pid if config.parent_pid is not None else os.getppid()
        self._handlers: Dict[int, Callable[[int, Dict[str, Any]], Optional[_SyncJob]]] = {
            P.REQUEST: self._on_request,
            P.CREDIT: self._on_credit,
            P.CANCEL: self._on_cancel,
            P.PING: self._on_ping,
            P.CALL_RESULT: self._on_call_result,
            P.SHUTDOWN: self._on_shutdown,
            P.SESSION_CLOSED: self._on_session_closed,
        }

    # ------------------------------------------------------------------
    # Startup
    # ------------------------------------------------------------------

    def run(self) -> NoReturn:
        """Runs the worker until it exits; never returns."""
        # The node orchestrates shutdown (SHUTDOWN, then SIGTERM, SIGKILL); a
        # Ctrl-C meant for the node's terminal must not kill workers mid-call.
        try:
            signal.signal(signal.SIGINT, signal.SIG_IGN)
        except (ValueError, OSError):
            pass
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._main())
        except BaseException:
            self.die(EXIT_INTERNAL, _INTERNAL_ERROR + traceback.format_exc())
        self.die(EXIT_INTERNAL, "worker runtime stopped unexpectedly")

    async def _main(self) -> None:
        loop = asyncio.get_running_loop()
        self._loop = loop
        self._loop_thread = threading.get_ident()
        loop.set_exception_handler(self._loop_exception)
        # Watch for parent death from the very start, so that a worker whose
        # node dies while it connects does not linger.
        self._start_lifelines(loop)
        sock = await self._connect(loop)
        self._stdio.redirect()
        faulthandler.enable(file=self._stdio.orig_stderr, all_threads=True)
        self._welcome = loop.create_future()
        # Blocking from now on, for the I/O threads' recv; sends pass
        # MSG_DONTWAIT (see _NodeSocket).
        sock.setblocking(True)
        self._sock = _NodeSocket(self, sock, loop)
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=self._after_fork_in_child)
        self._send(P.encode_frame(P.HELLO, 0, {
            "protocol": P.PROTOCOL_VERSION,
            "token": self.config.token,
            "worker_id": self.config.worker_id,
            "pid": os.getpid(),
            "python": sys.version.split()[0],
            "adapter": self.config.adapter,
            "tools": self.adapter.describe_tools(),
        }))
        _Reader(self, sock).start()
        await self._welcome
        await self._stdio.start_forwarding(loop, self._send_log)
        await loop.create_future()  # serve until os._exit

    def _on_welcome(self, body: Dict[str, Any]) -> None:
        # Done synchronously in the frame dispatch, not after an await: the
        # node may send its first REQUEST in the same read as WELCOME.
        peer_max = body.get("max_frame_bytes")
        if type(peer_max) is int and peer_max >= P.MIN_FRAME:
            self._peer_max = peer_max
        self._install_logging()
        self._ready = True
        assert self._welcome is not None
        self._to_loop(self._welcome.set_result, body)

    def _start_lifelines(self, loop: asyncio.AbstractEventLoop) -> None:
        # Why not prctl(PR_SET_PDEATHSIG)? It fires when the *thread* that
        # forked us exits, not the process. The JVM spawns children from
        # short-lived or pooled threads, so the signal would kill healthy
        # workers (or never come). A pipe EOF plus a getppid() poll track the
        # process itself, and work when the JVM is SIGKILLed.
        if os.getppid() != self._parent_pid:
            self.die(EXIT_CONFIG,
                     f"SNAKEPIT_PARENT_PID={self._parent_pid} but this process's parent is "
                     f"{os.getppid()}: the node must start the worker directly (no wrapper "
                     "process), or the node is already gone")
        loop.call_later(PARENT_CHECK_S, self._check_parent)
        try:
            mode = os.fstat(0).st_mode
        except OSError:
            return
        # Only a pipe or socket is a lifeline; a terminal or /dev/null (a worker
        # started by hand) would read as EOF or block the shell.
        if stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode):
            stdin = os.fdopen(os.dup(0), "rb", buffering=0)
            loop.create_task(loop.connect_read_pipe(lambda: _Lifeline(self), stdin))

    def _check_parent(self) -> None:
        if os.getppid() != self._parent_pid:
            self.die(EXIT_OK, None)
        assert self._loop is not None
        self._loop.call_later(PARENT_CHECK_S, self._check_parent)

    async def _connect(self, loop: asyncio.AbstractEventLoop) -> socket.socket:
        ep = self.config.endpoint
        sock: Optional[socket.socket] = None
        try:
            if ep.kind == "unix":
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                sock.setblocking(False)
                await loop.sock_connect(sock, ep.path)
            else:
                infos = await loop.getaddrinfo(ep.host, ep.port, type=socket.SOCK_STREAM)
                family, stype, proto, _, addr = infos[0]
                sock = socket.socket(family, stype, proto)
                sock.setblocking(False)
                await loop.sock_connect(sock, addr)
                # Small frames must not wait for Nagle's algorithm.
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except (OSError, IndexError) as exc:
            self.die(EXIT_CONNECT, f"cannot connect to the node at {ep}: {exc}")
        return sock  # type: ignore[return-value]

    def _after_fork_in_child(self) -> None:
        # A tool forked (multiprocessing's default on Linux, or os.fork). The
        # child must never write to the node's connection, where its frames
        # would interleave with ours, nor keep that connection open after we
        # die. Its log records go to stderr instead, which is our pipe, so
        # they still reach the node as "stderr" lines.
        self._forked_child = True
        sock = self._sock
        self._sock = None
        if sock is not None:
            try:
                os.close(sock._sock.detach())
            except OSError:
                pass

    def _install_logging(self) -> None:
        root = logging.getLogger()
        root.addHandler(FrameLogHandler(self._send_log))
        tools_logger = logging.getLogger(TOOLS_LOGGER_NAME)
        if tools_logger.level == logging.NOTSET:
            tools_logger.setLevel(logging.INFO)
        # warnings.warn() would otherwise arrive as anonymous stderr lines.
        logging.captureWarnings(True)

    def _loop_exception(self, loop: asyncio.AbstractEventLoop, context: Dict[str, Any]) -> None:
        exc = context.get("exception")
        msg = context.get("message", "")
        if exc is not None:
            msg = f"{msg}\n" + "".join(
                traceback.format_exception(type(exc), exc, exc.__traceback__))
        _log.error("event loop: %s", msg)

    # ------------------------------------------------------------------
    # Exit and output
    # ------------------------------------------------------------------

    def die(self, code: int, message: Optional[str]) -> NoReturn:
        """Ends the process at once (no cleanup: tool threads may be stuck). Any thread."""
        if message:
            self._stdio.write_fatal(f"snakepit worker {self.config.worker_id}: {message}")
        os._exit(code)

    def _send(self, frame: bytes) -> None:
        """Writes one frame; any thread."""
        sock = self._sock
        if sock is None:
            if self._forked_child:
                # A child forked by a tool came back into the runtime (finished
                # the tool, sent a chunk, called the node). It has no
                # connection and its thread pool is gone; end it here rather
                # than leave a process that waits forever.
                self._stdio.write_fatal(
                    f"snakepit worker {self.config.worker_id}: a process forked by tool "
                    f"code (pid {os.getpid()}) returned into the worker runtime; ending it")
                os._exit(0)
            return
        sock.write(frame)

    def _send_log(self, level: str, logger: str, message: str, correlation_id: Optional[str],
                  session_id: Optional[str], request_id: int, stream: Optional[str]) -> None:
        """Sends a LOG frame; any thread, never blocks, never raises."""
        try:
            if self._forked_child:
                os.write(2, f"{level} {logger}: {message}\n".encode("utf-8", "backslashreplace"))
                return
            sock = self._sock
            if sock is None or not self._ready:
                return
            if sock.buffered > LOG_DROP_BUFFER:
                # The node is not keeping up: drop rather than grow without bound.
                self._log_dropped += 1
                return
            if len(message) > MAX_LOG_MESSAGE:
                cut = len(message) - MAX_LOG_MESSAGE
                message = f"{message[:MAX_LOG_MESSAGE]}... [{cut} chars cut]"
            body: Dict[str, Any] = {"level": level, "logger": logger, "message": message}
            if correlation_id is not None:
                body["correlation_id"] = str(correlation_id)
            if session_id is not None:
                body["session_id"] = str(session_id)
            if stream is not None:
                body["stream"] = stream
            fid = request_id if 0 < request_id <= P.U32_MAX else 0
            try:
                frame = P.encode_frame(P.LOG, fid, body, self._peer_max)
            except P.FrameTooLargeError:
                # Only with a node limit far below the default: cut harder (a
                # character may take 6 bytes as a JSON escape) rather than send
                # a frame the node would treat as a protocol error.
                body["message"] = message[:max(0, self._peer_max // 6 - 256)] + "... [cut]"
                frame = P.encode_frame(P.LOG, fid, body, self._peer_max)
            if self._log_dropped:
                dropped, self._log_dropped = self._log_dropped, 0
                sock.write(P.encode_frame(P.LOG, 0, {
                    "level": "WARNING", "logger": "snakepit.worker",
                    "message": f"{dropped} log records dropped: the node was not reading "
                               "fast enough",
                }))
            sock.write(frame)
        except Exception:
            pass

    def _error_frame(self, fid: int, code: str, type_name: str, message: str,
                     tb: Optional[str] = None, tools: Optional[List[str]] = None) -> bytes:
        body: Dict[str, Any] = {"code": code, "type": type_name, "message": message}
        if tb is not None:
            body["traceback"] = tb
        if tools is not None:
            body["tools"] = tools
        try:
            return P.encode_frame(P.ERROR, fid, body, self._peer_max)
        except P.FrameTooLargeError:
            # A long traceback (or tool list) against a small node limit: keep
            # the code and type, cut the text to fit.
            budget = max(16, self._peer_max // 8 - 256)
            body["message"] = message[:budget]
            if tb is not None:
                body["traceback"] = "... [traceback cut]\n" + tb[-budget:]
            body.pop("tools", None)
            try:
                return P.encode_frame(P.ERROR, fid, body, self._peer_max)
            except P.FrameTooLargeError:
                return P.encode_frame(P.ERROR, fid, {"code": code, "type": type_name[:64],
                                                     "message": "(too large to send)"})

    def _tool_failed(self, call: _Call, exc: BaseException) -> bytes:
        return self._error_frame(call.id, "tool_failed", _qualified_name(type(exc)),
                                 _safe_str(exc), _format_traceback(exc))

    def _encode_item(self, call: _Call, ftype: int, key: str, value: Any) -> bytes:
        """RESULT/CHUNK frame for ``value``, or a tool_failed ERROR if it cannot be sent."""
        try:
            return P.encode_frame(ftype, call.id, {key: value}, self._peer_max)
        except P.FrameTooLargeError as exc:
            what = "returned" if ftype == P.RESULT else "yielded"
            return self._error_frame(
                call.id, "tool_failed", "snakepit_worker.protocol.FrameTooLargeError",
                f"tool {call.spec.name!r} {what} a value too large to send: {exc}; "
                "return less data or stream it in chunks")
        except TypeError as exc:
            what = "returned" if ftype == P.RESULT else "yielded"
            return self._error_frame(
                call.id, "tool_failed", "TypeError",
                f"tool {call.spec.name!r} {what} a value that is not JSON-serialisable: {exc}. "
                "Use dicts, lists, str, int, float, bool, None or bytes")
        except (ValueError, RecursionError) as exc:
            what = "returned" if ftype == P.RESULT else "yielded"
            return self._error_frame(
                call.id, "tool_failed", type(exc).__name__,
                f"tool {call.spec.name!r} {what} a value that cannot be sent as JSON: {exc}")

    def _cancelled_frame(self, call: _Call) -> bytes:
        return self._error_frame(call.id, "cancelled", "CancelledError",
                                 f"tool {call.spec.name!r} was cancelled")

    # ------------------------------------------------------------------
    # Dispatch (loop thread)
    # ------------------------------------------------------------------

    def _to_loop(self, fn: Callable[..., Any], *args: Any) -> None:
        """Runs ``fn(*args)`` on the event loop, in the order frames arrived.

        Frame handlers run on an I/O thread; whatever they do to asyncio
        objects (start a task, cancel it, set a future) must happen on the
        loop. During a batch the calls are collected and sent over with one
        ``call_soon_threadsafe`` (one loop wake-up) when the batch ends.
        """
        batch = self._loop_batch
        if batch is not None:
            batch.append((fn, args))
        else:
            self._loop.call_soon_threadsafe(fn, *args)

    @staticmethod
    def _run_batch(batch: List[Any]) -> None:
        """Runs the loop calls of one batch of frames (loop thread)."""
        for fn, args in batch:
            fn(*args)

    def _dispatch(self, frame: P.Frame) -> Optional[_SyncJob]:
        """Handles one frame on the I/O thread that read it.

        Returns a plain-function call to run (see :meth:`_on_request`), which
        the reader either runs inline or passes to :meth:`_submit`.
        """
        handler = self._handlers.get(frame.type)
        if handler is not None and self._ready:
            return handler(frame.id, frame.body)
        elif frame.type == P.WELCOME and not self._ready and self._welcome is not None:
            self._on_welcome(frame.body)
        elif frame.type == P.REJECT and not self._ready:
            body = frame.body
            self.die(EXIT_REJECTED,
                     f"rejected by the node ({body.get('code', '?')}): {body.get('message', '')}")
        elif handler is not None:
            raise P.ProtocolError(f"{frame.name} arrived before WELCOME")
        else:
            raise P.ProtocolError(
                f"unexpected {frame.name} frame (type {frame.type}) from the node")
        return None

    def _on_request(self, fid: int, body: Dict[str, Any]) -> Optional[_SyncJob]:
        """Checks and registers a request; returns it if it is a plain function.

        Async tools are started on the event loop and sync generators go to
        the thread pool from here; a plain function is returned to the
        reader, which runs it inline or submits it (see :class:`_Reader`).
        """
        if fid == 0 or fid & P.WORKER_ID_BIT:
            raise P.ProtocolError(f"REQUEST id {fid} is outside the node's range 1..2^31-1")
        if fid in self._calls:
            raise P.ProtocolError(f"REQUEST id {fid} is already in use by a running request")
        if self._shutting_down:
            self._send(self._error_frame(fid, "cancelled", "CancelledError",
                                         "the worker is shutting down and takes no new requests"))
            return
        name = body.get("tool")
        spec = self._tools.get(name) if type(name) is str else None
        if spec is None:
            if type(name) is not str:
                self._send(self._error_frame(fid, "bad_request", "ValueError",
                                             "REQUEST.tool must be a string"))
            else:
                self._send(self._error_frame(
                    fid, "unknown_tool", "LookupError",
                    f"unknown tool {name!r}; this worker offers: {', '.join(self._tool_names)}",
                    tools=self._tool_names))
            return
        stream = body.get("stream", False)
        if stream is not spec.is_stream:
            if spec.is_stream:
                msg = f"tool {name!r} is a streaming tool: call it as a stream"
            else:
                msg = f"tool {name!r} is not a streaming tool: call it without stream"
            self._send(self._error_frame(fid, "bad_request", "ValueError", msg))
            return
        args = body.get("args")
        if args is None:
            args = {}
        elif type(args) is not dict:
            self._send(self._error_frame(
                fid, "bad_request", "TypeError",
                f"REQUEST.args must be an object, not {type(args).__name__}"))
            return
        session_id = body.get("session_id") or None
        correlation_id = body.get("correlation_id")
        timeout_ms = body.get("timeout_ms")
        if session_id is not None and type(session_id) is not str:
            session_id = str(session_id)
        if correlation_id is not None and type(correlation_id) is not str:
            correlation_id = str(correlation_id)
        ctx = Context(name, fid, session_id, correlation_id, self.config.worker_id,
                      self.config.node_id, self, timeout_ms if type(timeout_ms) is int else None)
        try:
            kwargs = spec.bind(args, ctx)
        except TypeError as exc:
            self._send(self._error_frame(fid, "bad_request", "TypeError", str(exc)))
            return
        call = _Call(fid, spec, ctx)
        if spec.is_stream:
            credit = body.get("credit", 0)
            if type(credit) is not int or credit < 0:
                self._send(self._error_frame(fid, "bad_request", "ValueError",
                                             "REQUEST.credit must be a non-negative integer"))
                return
            call.credit = credit
        with self._lock:
            self._calls[fid] = call
        # Run the tool inside a fresh context with the request set, so
        # logging (and user contextvars) see the right request in threads as
        # in tasks, and a contextvar a tool sets does not leak into the next
        # call run by the same thread.
        run_ctx = contextvars.Context()
        run_ctx.run(CURRENT_CONTEXT.set, ctx)
        if spec.is_async:
            self._to_loop(self._start_async, call, kwargs, run_ctx)
        elif spec.is_stream:
            call.cond = threading.Condition(threading.Lock())
            self._executor.submit(run_ctx.run, self._run_sync_stream, call, kwargs)
        else:
            return run_ctx, call, kwargs
        return None

    def _submit(self, job: _SyncJob) -> None:
        """Runs a plain function in the thread pool (when the reader cannot run it inline)."""
        run_ctx, call, kwargs = job
        self._executor.submit(run_ctx.run, self._run_sync, call, kwargs)

    def _start_async(self, call: _Call, kwargs: Dict[str, Any],
                     run_ctx: contextvars.Context) -> None:
        """Starts an async tool as a task (loop thread)."""
        if call.spec.is_stream:
            call.event = asyncio.Event()
            coro = self._run_async_stream(call, kwargs)
        else:
            coro = self._run_async(call, kwargs)
        # Task creation copies the current context: do it inside run_ctx
        # (create_task's context= argument needs Python 3.11).
        task = run_ctx.run(self._loop.create_task, coro)
        call.task = task
        # A task cancelled before its first step never runs the wrapper's
        # except clauses; this answers for it (and _finish is idempotent).
        task.add_done_callback(lambda _t, c=call: self._finish(c, None))
        if call.cancel_requested:
            task.cancel()  # CANCEL came in the same read as the REQUEST

    def _add_async_credit(self, call: _Call, n: int) -> None:
        """CREDIT for an async stream (loop thread)."""
        call.credit += n
        if call.event is not None:
            call.event.set()

    @staticmethod
    def _cancel_task(call: _Call) -> None:
        """CANCEL for an async tool (loop thread; after _start_async, which was queued first)."""
        if call.task is not None:
            call.task.cancel()

    def _on_credit(self, fid: int, body: Dict[str, Any]) -> None:
        n = body.get("n")
        if type(n) is not int or n < 0:
            raise P.ProtocolError(f"CREDIT.n must be a non-negative integer, got {n!r}")
        call = self._calls.get(fid)
        if call is None or call.finished or not call.spec.is_stream:
            return  # the stream already ended: credit races with END
        if call.cond is not None:
            with call.cond:
                call.credit += n
                call.cond.notify()
        else:
            self._to_loop(self._add_async_credit, call, n)

    def _on_cancel(self, fid: int, body: Dict[str, Any]) -> None:
        with self._lock:
            call = self._calls.get(fid)
            if call is None or call.finished:
                return  # already answered: CANCEL crossed the answer
            call.cancel_requested = True
        call.ctx._set_cancelled()
        if call.spec.is_async:
            self._to_loop(self._cancel_task, call)
        if call.cond is not None:
            with call.cond:
                call.cond.notify_all()

    def _on_ping(self, fid: int, body: Dict[str, Any]) -> None:
        pong: Dict[str, Any] = {"t": body.get("t")}
        rss = read_rss()
        if rss is not None:
            pong["rss"] = rss
        self._send(P.encode_frame(P.PONG, 0, pong))

    def _on_call_result(self, fid: int, body: Dict[str, Any]) -> None:
        fut = self._pending.pop(fid, None)
        if fut is None:
            return  # the caller gave up (cancelled)
        if isinstance(fut, asyncio.Future):
            # acall() awaits it on the loop; asyncio futures are not thread-safe.
            self._to_loop(self._resolve_call, fut, body)
        else:
            self._resolve_call(fut, body)

    @staticmethod
    def _resolve_call(fut: Any, body: Dict[str, Any]) -> None:
        """Completes a ctx.call/acall future with a CALL_RESULT body."""
        if fut.done():
            return  # the caller gave up (cancelled)
        error = body.get("error")
        if error is not None:
            if isinstance(error, dict):
                code = str(error.get("code", "error"))
                message = str(error.get("message", ""))
            else:
                code, message = "error", str(error)
            fut.set_exception(NodeCallError(code, message))
        else:
            fut.set_result(body.get("result"))

    def _on_shutdown(self, fid: int, body: Dict[str, Any]) -> None:
        if self._shutting_down:
            return
        self._shutting_down = True
        deadline_ms = body.get("deadline_ms")
        if type(deadline_ms) not in (int, float) or deadline_ms < 0:
            deadline_ms = DEFAULT_SHUTDOWN_MS
        self._to_loop(self._loop.call_later, deadline_ms / 1000.0, self._shutdown_deadline)
        self._to_loop(self._maybe_exit)

    def _maybe_exit(self) -> None:
        """Exits once SHUTDOWN came and nothing runs any more (loop thread)."""
        if self._shutting_down and not self._calls:
            self._exit_gracefully()

    def _shutdown_deadline(self) -> None:
        with self._lock:
            calls = list(self._calls.values())
        for call in calls:
            self._on_cancel(call.id, {})
            self._finish(call, None)
        self._exit_gracefully()

    def _exit_gracefully(self) -> None:
        if self._exiting:
            return
        self._exiting = True
        self._loop.create_task(self._flush_and_exit())

    async def _flush_and_exit(self) -> None:
        try:
            self._stdio.drain()
            sock = self._sock
            loop = self._loop
            assert loop is not None
            deadline = loop.time() + 2.0
            while sock is not None and sock.buffered > 0 and loop.time() < deadline:
                await asyncio.sleep(0.01)
        finally:
            self.die(EXIT_OK, None)

    def _on_session_closed(self, fid: int, body: Dict[str, Any]) -> None:
        session_id = body.get("session_id")
        hook = self.adapter.on_session_closed
        if type(session_id) is not str or hook is None:
            return
        if asyncio.iscoroutinefunction(hook):
            self._to_loop(self._loop.create_task, self._session_closed_async(hook, session_id))
        else:
            self._executor.submit(self._session_closed_sync, hook, session_id)

    @staticmethod
    def _session_closed_sync(hook: Callable[[str], Any], session_id: str) -> None:
        try:
            hook(session_id)
        except Exception:
            _log.exception("on_session_closed(%r) failed", session_id)

    @staticmethod
    async def _session_closed_async(hook: Callable[[str], Any], session_id: str) -> None:
        try:
            await hook(session_id)
        except Exception:
            _log.exception("on_session_closed(%r) failed", session_id)

    # ------------------------------------------------------------------
    # Running tools
    # ------------------------------------------------------------------

    def _finish(self, call: _Call, frame: Optional[bytes]) -> None:
        """Sends the final answer of ``call``; any thread. ``None`` means cancelled."""
        with self._lock:
            if call.finished:
                return
            call.finished = True
            # Popped before the answer is written, so the node can reuse the
            # id as soon as it has the answer.
            self._calls.pop(call.id, None)
            cancelled = call.cancel_requested
        if cancelled or frame is None:
            # The node asked to cancel and has had no answer yet: whatever the
            # tool did after that, the answer is "cancelled".
            frame = self._cancelled_frame(call)
        self._send(frame)
        if self._shutting_down:
            if threading.get_ident() == self._loop_thread:
                self._maybe_exit()
            else:
                self._loop.call_soon_threadsafe(self._maybe_exit)

    def _run_sync(self, call: _Call, kwargs: Dict[str, Any]) -> None:
        """A plain function, in an executor thread."""
        if call.ctx._cancelled:
            frame: Optional[bytes] = None  # cancelled while queued: never started
        else:
            try:
                frame = self._encode_item(call, P.RESULT, "result", call.spec.func(**kwargs))
            except BaseException as exc:  # SystemExit in a tool is a failure, too
                frame = None if isinstance(exc, ToolCancelled) else self._tool_failed(call, exc)
        self._finish(call, frame)

    def _wait_credit(self, call: _Call) -> bool:
        """Blocks a sync stream until it may send a chunk; False once cancelled."""
        ctx = call.ctx
        cond = call.cond
        assert cond is not None
        with cond:
            while call.credit <= 0 and not ctx._cancelled:
                cond.wait()
        # Back-pressure from the socket: do not produce faster than we send.
        # Polling is fine here: it only happens while the node is not reading.
        sock = self._sock
        while sock is not None and sock.buffered > WRITE_HIGH_WATER:
            if ctx.wait_cancelled(0.005):
                return False
        return not ctx._cancelled

    def _run_sync_stream(self, call: _Call, kwargs: Dict[str, Any]) -> None:
        """A sync generator, in an executor thread, one item per credit."""
        gen = None
        frame: Optional[bytes] = None
        try:
            gen = call.spec.func(**kwargs)
            while True:
                if not self._wait_credit(call):
                    break  # cancelled; frame None -> "cancelled"
                try:
                    item = next(gen)
                except StopIteration:
                    frame = P.encode_frame(P.END, call.id)
                    break
                chunk = self._encode_item(call, P.CHUNK, "item", item)
                if chunk[4] == P.ERROR:
                    frame = chunk
                    break
                with call.cond:
                    call.credit -= 1
                if not call.cancel_requested:  # the node no longer wants chunks
                    self._send(chunk)
        except BaseException as exc:
            frame = None if isinstance(exc, ToolCancelled) else self._tool_failed(call, exc)
        finally:
            if gen is not None:
                try:
                    gen.close()  # runs the generator's finally blocks now
                except BaseException as exc:
                    if frame is not None and frame[4] != P.ERROR:
                        frame = self._tool_failed(call, exc)
        self._finish(call, frame)

    async def _run_async(self, call: _Call, kwargs: Dict[str, Any]) -> None:
        """An ``async def`` tool, as a task on the loop."""
        try:
            result = await call.spec.func(**kwargs)
            frame: Optional[bytes] = self._encode_item(call, P.RESULT, "result", result)
        except (asyncio.CancelledError, ToolCancelled):
            frame = None
        except BaseException as exc:
            frame = self._tool_failed(call, exc)
        self._finish(call, frame)

    async def _run_async_stream(self, call: _Call, kwargs: Dict[str, Any]) -> None:
        """An async generator, as a task on the loop, one item per credit."""
        agen = call.spec.func(**kwargs)
        event = call.event
        sock = self._sock
        assert event is not None and sock is not None
        frame: Optional[bytes] = None
        try:
            while True:
                while call.credit <= 0:
                    event.clear()
                    await event.wait()
                while sock.buffered > WRITE_HIGH_WATER:
                    await asyncio.sleep(0.005)
                try:
                    item = await agen.__anext__()
                except StopAsyncIteration:
                    frame = P.encode_frame(P.END, call.id)
                    break
                chunk = self._encode_item(call, P.CHUNK, "item", item)
                if chunk[4] == P.ERROR:
                    frame = chunk
                    break
                call.credit -= 1
                if not call.cancel_requested:
                    self._send(chunk)
        except (asyncio.CancelledError, ToolCancelled):
            frame = None
        except BaseException as exc:
            frame = self._tool_failed(call, exc)
        try:
            await agen.aclose()
        except BaseException as exc:
            if frame is not None and frame[4] != P.ERROR:
                frame = self._tool_failed(call, exc)
        self._finish(call, frame)

    # ------------------------------------------------------------------
    # Calls to the node (NodeLink)
    # ------------------------------------------------------------------

    def _call_frame(self, op: str, args: Dict[str, Any]) -> "tuple[int, bytes]":
        if type(op) is not str or not op:
            raise TypeError("op must be a non-empty string such as 'session.get_var'")
        if "op" in args:
            raise TypeError("'op' cannot also be passed as an argument")
        # Worker-initiated ids carry the top bit, so they never collide with the node's.
        cid = P.WORKER_ID_BIT | (next(self._call_ids) & 0x7FFFFFFF)
        body = {"op": op}
        body.update(args)
        return cid, P.encode_frame(P.CALL, cid, body, self._peer_max)

    def call(self, op: str, args: Dict[str, Any], ctx: Optional[Context]) -> Any:
        """Blocking node call for tool threads (see :meth:`Context.call`)."""
        if threading.get_ident() == self._loop_thread:
            raise RuntimeError(
                "ctx.call() and the sync ctx.session methods block, so they cannot run on the "
                "event loop (in an async tool); use 'await ctx.acall(...)' and "
                "ctx.session.aget/aset/adelete/aall instead")
        if self._sock is None or not self._ready:
            raise RuntimeError("ctx.call() needs a connected worker")
        cid, frame = self._call_frame(op, args)
        fut: concurrent.futures.Future = concurrent.futures.Future()
        self._pending[cid] = fut
        self._send(frame)
        while True:
            try:
                # Short waits so a cancelled request stops waiting for the node too.
                return fut.result(timeout=0.05 if ctx is not None else None)
            except concurrent.futures.TimeoutError:
                if ctx is not None and ctx._cancelled:
                    self._pending.pop(cid, None)
                    raise ToolCancelled(f"cancelled while waiting for node op {op!r}") from None

    async def acall(self, op: str, args: Dict[str, Any]) -> Any:
        """Node call for async tools (see :meth:`Context.acall`)."""
        loop = self._loop
        if loop is None or threading.get_ident() != self._loop_thread:
            raise RuntimeError("ctx.acall() must be awaited on the worker's event loop "
                               "(in an async tool); sync tools use ctx.call()")
        cid, frame = self._call_frame(op, args)
        fut = loop.create_future()
        self._pending[cid] = fut
        self._send(frame)
        try:
            return await fut
        finally:
            self._pending.pop(cid, None)
