"""The worker runtime: serves the adapter's tools over the node connection.

The pieces
    ``runtime.py`` (this module)
        :class:`WorkerRuntime`, the coordinator: startup (lifelines, connect,
        HELLO, WELCOME), frame dispatch to the handlers below, PING,
        SHUTDOWN and exit, LOG output, fork safety. It re-exports the names
        other code imports from here (``WorkerRuntime``, ``read_rss``, the
        ``EXIT_*`` statuses and the limits).
    ``transport.py``
        the connection: :class:`_NodeSocket` (writes frames from any thread,
        never blocking), :class:`_Reader` (reads and dispatches, in thread
        or loop mode), :class:`_Lifeline` (stdin EOF) and ``connect``.
    ``requests.py``
        :class:`RequestChecker`: a REQUEST body becomes a checked, registered
        and started call, or an ERROR (``unknown_tool``, ``bad_request``,
        ``cancelled``).
    ``execution.py``
        :class:`Execution`: the call table (``_Call``), running plain
        functions, generators and ``async`` tools, CREDIT, CANCEL, each
        call's one final answer, and the ``on_session_closed`` hook.
    ``nodecalls.py``
        :class:`NodeCalls`: ``ctx.call``/``ctx.acall`` (CALL out,
        CALL_RESULT back); the :class:`.context.NodeLink` of every Context.
    ``encoding.py``
        :class:`FrameEncoder`: frames within the node's limit, ERROR and LOG
        frames, and how an exception escaping a tool is reported.
    ``exits.py``: the exit statuses below.

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
    blocking ``recv`` on an I/O thread (transport) -> incremental decoder
    (parses in place, C JSON scanner) -> dict lookup of the handler, then
    of the tool -> argument check with precomputed name sets, no
    ``Signature.bind`` (requests) -> arm the standby (one ``epoll_ctl``)
    -> tool, inline (execution) -> C JSON encoder (encoding) -> one
    ``send`` -> disarm the standby -> ``recv``. No thread hand-off and no
    event loop. The split into modules adds no call to it: handlers are the
    components' bound methods, components hold direct references to what
    they use (the shared call table, the encoder, the runtime), and the
    request check returns the plain function to the reader itself.

Exit statuses
    0 graceful shutdown, connection closed, stdin EOF or parent gone;
    2 bad environment; 3 adapter import/setup failed; 4 rejected by the node;
    5 protocol error; 6 cannot connect; 1 internal error.
"""

from __future__ import annotations

import asyncio
import faulthandler
import logging
import os
import signal
import stat
import sys
import threading
import traceback
from typing import Any, Callable, Dict, List, NoReturn, Optional

from . import containment
from . import protocol as P
from .adapter import LoadedAdapter
from .config import WorkerConfig
from .context import TOOLS_LOGGER_NAME
from .encoding import MAX_ERROR_MESSAGE, MAX_LOG_MESSAGE, MAX_TRACEBACK, FrameEncoder
from .execution import WRITE_HIGH_WATER, Execution, _SyncJob
from .exits import (EXIT_ADAPTER, EXIT_CONFIG, EXIT_CONNECT, EXIT_INTERNAL, EXIT_OK,
                    EXIT_PROTOCOL, EXIT_REJECTED, INTERNAL_ERROR)
from .nodecalls import NodeCalls
from .requests import RequestChecker
from .stdio import FrameLogHandler, StdioRedirect
from .transport import _Lifeline, _NodeSocket, _Reader, connect

# What other code imports from here, wherever it is defined now.
__all__ = [
    "DEFAULT_SHUTDOWN_MS", "EXIT_ADAPTER", "EXIT_CONFIG", "EXIT_CONNECT", "EXIT_INTERNAL",
    "EXIT_OK", "EXIT_PROTOCOL", "EXIT_REJECTED", "LOG_DROP_BUFFER", "MAX_ERROR_MESSAGE",
    "MAX_LOG_MESSAGE", "MAX_TRACEBACK", "PARENT_CHECK_S", "WRITE_HIGH_WATER", "WorkerRuntime",
    "read_rss",
]

#: How often the parent pid is compared with SNAKEPIT_PARENT_PID.
PARENT_CHECK_S = 0.5
#: Used when SHUTDOWN has no usable deadline_ms.
DEFAULT_SHUTDOWN_MS = 10_000
#: Above this many unsent bytes, LOG frames are dropped (and counted) rather
#: than letting a log flood grow memory without bound.
LOG_DROP_BUFFER = 8 * 1024 * 1024

_log = logging.getLogger("snakepit.worker")


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


class WorkerRuntime:
    """Connects to the node and serves the adapter's tools until told or forced to stop.

    Construct it with an adapter whose ``setup`` already ran, then call
    :meth:`run`, which never returns: the process ends with ``os._exit`` so
    that tool threads stuck in user code cannot keep it alive.

    The attributes without a leading underscore (``loop``, ``sock``,
    ``encoder``, ``execution``, ...) are for the runtime's other modules.
    """

    def __init__(self, config: WorkerConfig, adapter: LoadedAdapter) -> None:
        self.config = config
        self.adapter = adapter
        # Set once, first thing in _main, before anything can use it.
        self.loop: asyncio.AbstractEventLoop = None  # type: ignore[assignment]
        self.loop_thread: Optional[int] = None
        self.sock: Optional[_NodeSocket] = None
        self.ready = False
        # Loop calls of the batch of frames being dispatched (see to_loop);
        # only the I/O thread holding the reader role sets it.
        self.loop_batch: Optional[List[Any]] = None
        self._welcome: Optional[asyncio.Future] = None
        self._exiting = False
        self._stdio = StdioRedirect()
        self._log_dropped = 0
        self._forked_child = False
        self._parent_pid = config.parent_pid if config.parent_pid is not None else os.getppid()
        # The components, in the order they need one another.
        self.encoder = FrameEncoder(config.max_frame_bytes)
        self.node_calls = NodeCalls(self)
        self.execution = Execution(self, config.concurrency)
        self._requests = RequestChecker(self)
        self._handlers: Dict[int, Callable[[int, Dict[str, Any]], Optional[_SyncJob]]] = {
            P.REQUEST: self._requests.on_request,
            P.CREDIT: self.execution.on_credit,
            P.CANCEL: self.execution.on_cancel,
            P.PING: self._on_ping,
            P.CALL_RESULT: self.node_calls.on_call_result,
            P.SHUTDOWN: self._on_shutdown,
            P.SESSION_CLOSED: self.execution.on_session_closed,
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
            self.die(EXIT_INTERNAL, INTERNAL_ERROR + traceback.format_exc())
        self.die(EXIT_INTERNAL, "worker runtime stopped unexpectedly")

    async def _main(self) -> None:
        loop = asyncio.get_running_loop()
        self.loop = loop
        self.loop_thread = threading.get_ident()
        loop.set_exception_handler(self._loop_exception)
        # Watch for parent death from the very start, so that a worker whose
        # node dies while it connects does not linger.
        self._start_lifelines(loop)
        ep = self.config.endpoint
        try:
            sock = await connect(loop, ep)
        except (OSError, IndexError) as exc:
            self.die(EXIT_CONNECT, f"cannot connect to the node at {ep}: {exc}")
        self._stdio.redirect()
        faulthandler.enable(file=self._stdio.orig_stderr, all_threads=True)
        self._welcome = loop.create_future()
        # Blocking from now on, for the I/O threads' recv; sends pass
        # MSG_DONTWAIT (see _NodeSocket).
        sock.setblocking(True)
        self.sock = _NodeSocket(self, sock, loop)
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=self._after_fork_in_child)
        self.send(P.encode_frame(P.HELLO, 0, {
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
            self.encoder.peer_max = peer_max
        self._install_logging()
        self.ready = True
        assert self._welcome is not None
        self.to_loop(self._welcome.set_result, body)

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
        assert self.loop is not None
        self.loop.call_later(PARENT_CHECK_S, self._check_parent)

    def _after_fork_in_child(self) -> None:
        # A tool forked (multiprocessing's default on Linux, or os.fork). The
        # child must never write to the node's connection, where its frames
        # would interleave with ours, nor keep that connection open after we
        # die. Its log records go to stderr instead, which is our pipe, so
        # they still reach the node as "stderr" lines.
        self._forked_child = True
        sock = self.sock
        self.sock = None
        if sock is not None:
            sock.close_in_child()

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
        """Ends the process at once (no cleanup: tool threads may be stuck). Any thread.

        Every process the tools started ends with it: whatever this pass
        misses (started meanwhile, or already reparented away by a double
        fork) is reparented to the forkserver, a child subreaper, which ends
        it once this worker is gone.
        """
        if message:
            self._stdio.write_fatal(f"snakepit worker {self.config.worker_id}: {message}")
        if not self._forked_child:
            try:
                containment.kill_descendants()
            except Exception:
                pass
        os._exit(code)

    def send(self, frame: bytes) -> None:
        """Writes one frame; any thread."""
        sock = self.sock
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
            sock = self.sock
            if sock is None or not self.ready:
                return
            if sock.buffered > LOG_DROP_BUFFER:
                # The node is not keeping up: drop rather than grow without bound.
                self._log_dropped += 1
                return
            frame = self.encoder.log(level, logger, message, correlation_id, session_id,
                                     request_id, stream)
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

    # ------------------------------------------------------------------
    # Dispatch (I/O thread, or the loop in loop mode)
    # ------------------------------------------------------------------

    def to_loop(self, fn: Callable[..., Any], *args: Any) -> None:
        """Runs ``fn(*args)`` on the event loop, in the order frames arrived.

        Frame handlers run on an I/O thread; whatever they do to asyncio
        objects (start a task, cancel it, set a future) must happen on the
        loop. During a batch the calls are collected and sent over with one
        ``call_soon_threadsafe`` (one loop wake-up) when the batch ends.
        """
        batch = self.loop_batch
        if batch is not None:
            batch.append((fn, args))
        else:
            self.loop.call_soon_threadsafe(fn, *args)

    @staticmethod
    def run_batch(batch: List[Any]) -> None:
        """Runs the loop calls of one batch of frames (loop thread)."""
        for fn, args in batch:
            fn(*args)

    def dispatch(self, frame: P.Frame) -> Optional[_SyncJob]:
        """Handles one frame on the I/O thread that read it.

        Returns a plain-function call to run (see
        :meth:`.requests.RequestChecker.on_request`), which the reader either
        runs inline or passes to :meth:`.execution.Execution.submit`.
        """
        handler = self._handlers.get(frame.type)
        if handler is not None and self.ready:
            return handler(frame.id, frame.body)
        elif frame.type == P.WELCOME and not self.ready and self._welcome is not None:
            self._on_welcome(frame.body)
        elif frame.type == P.REJECT and not self.ready:
            body = frame.body
            self.die(EXIT_REJECTED,
                     f"rejected by the node ({body.get('code', '?')}): {body.get('message', '')}")
        elif handler is not None:
            raise P.ProtocolError(f"{frame.name} arrived before WELCOME")
        else:
            raise P.ProtocolError(
                f"unexpected {frame.name} frame (type {frame.type}) from the node")
        return None

    def _on_ping(self, fid: int, body: Dict[str, Any]) -> None:
        pong: Dict[str, Any] = {"t": body.get("t")}
        rss = read_rss()
        if rss is not None:
            pong["rss"] = rss
        self.send(P.encode_frame(P.PONG, 0, pong))

    # ------------------------------------------------------------------
    # Shutdown
    # ------------------------------------------------------------------

    def _on_shutdown(self, fid: int, body: Dict[str, Any]) -> None:
        execution = self.execution
        if execution.draining:
            return
        self._requests.closed = True  # new requests are answered "cancelled"
        execution.draining = True  # each final answer calls maybe_exit
        deadline_ms = body.get("deadline_ms")
        if type(deadline_ms) not in (int, float) or deadline_ms < 0:
            deadline_ms = DEFAULT_SHUTDOWN_MS
        self.to_loop(self.loop.call_later, deadline_ms / 1000.0, self._shutdown_deadline)
        self.to_loop(self.maybe_exit)

    def maybe_exit(self) -> None:
        """Exits once SHUTDOWN came and nothing runs any more (loop thread)."""
        if self.execution.draining and not self.execution.calls:
            self._exit_gracefully()

    def _shutdown_deadline(self) -> None:
        self.execution.cancel_all()
        self._exit_gracefully()

    def _exit_gracefully(self) -> None:
        if self._exiting:
            return
        self._exiting = True
        self.loop.create_task(self._flush_and_exit())

    async def _flush_and_exit(self) -> None:
        try:
            self._stdio.drain()
            sock = self.sock
            loop = self.loop
            assert loop is not None
            deadline = loop.time() + 2.0
            while sock is not None and sock.buffered > 0 and loop.time() < deadline:
                await asyncio.sleep(0.01)
        finally:
            self.die(EXIT_OK, None)
