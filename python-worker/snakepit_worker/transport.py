"""The node connection: connecting, writing frames, reading and dispatching them.

A module of its own because how bytes move is independent of what the
frames mean: :class:`_NodeSocket` writes whole frames from any thread
without blocking, :class:`_Reader` reads the socket (on two I/O threads, or
on the event loop) and hands each frame to :meth:`WorkerRuntime.dispatch`,
:class:`_Lifeline` turns stdin EOF into an exit, and :func:`connect` opens
the socket. The runtime owns the objects; they call back into it only to
dispatch, to run what dispatch returned, and to exit.
"""

from __future__ import annotations

import asyncio
import collections
import os
import select
import socket
import threading
import time
import traceback
from typing import TYPE_CHECKING, Any, Deque, List, Optional

from . import protocol as P
from .adapter import RESERVED_PREFIX
from .config import Endpoint
from .execution import _SyncJob
from .exits import EXIT_INTERNAL, EXIT_OK, EXIT_PROTOCOL, INTERNAL_ERROR

if TYPE_CHECKING:
    from .runtime import WorkerRuntime

#: Sends never block (the socket itself is blocking, for the reader's recv).
#: Every POSIX system has MSG_DONTWAIT.
_DONTWAIT = getattr(socket, "MSG_DONTWAIT", 0)


async def connect(loop: asyncio.AbstractEventLoop, ep: Endpoint) -> socket.socket:
    """Opens the connection to the node (non-blocking until the caller changes it).

    Raises:
        OSError: the node cannot be reached.
        IndexError: the host name resolved to nothing.
    """
    if ep.kind == "unix":
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.setblocking(False)
        await loop.sock_connect(sock, ep.path)
        return sock
    infos = await loop.getaddrinfo(ep.host, ep.port, type=socket.SOCK_STREAM)
    family, stype, proto, _, addr = infos[0]
    sock = socket.socket(family, stype, proto)
    sock.setblocking(False)
    await loop.sock_connect(sock, addr)
    # Small frames must not wait for Nagle's algorithm.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


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

    def close_in_child(self) -> None:
        """Closes this process's descriptor (in a forked child) without shutting the socket down."""
        try:
            os.close(self._sock.detach())
        except OSError:
            pass

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
            if threading.get_ident() == self._rt.loop_thread:
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
        # What dispatch returns (a plain-function call) is run with these.
        self._run_sync = runtime.execution.run_sync
        self._submit = runtime.execution.submit
        self._role = threading.Lock()  # guards _free and _standby
        self._free = False  # the role is released: the standby may take it
        self._standby = False  # a thread waits in _wait_for_role
        self._epoll: Any = None
        self._busy_poll_s = runtime.config.busy_poll_us / 1e6
        # The reserved handoff tools are rare and may take the slower path; they do not decide it.
        has_sync = any(not spec.is_async for name, spec in runtime.adapter.tools.items()
                       if not name.startswith(RESERVED_PREFIX))
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
            self._rt.loop.add_reader(self._fd, self._on_readable)
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
        batch: List[Any] = []
        rt.loop_batch = batch
        try:
            for frame in self._decoder.feed(data):
                found = rt.dispatch(frame)
                if found is not None:
                    if job is not None:
                        self._submit(job)
                    job = found
        except P.ProtocolError as exc:
            rt.die(EXIT_PROTOCOL, f"protocol error from node: {exc}; closing")
        rt.loop_batch = None
        if batch:
            if self.loop_mode:
                rt.run_batch(batch)
            else:
                rt.loop.call_soon_threadsafe(rt.run_batch, batch)
        return job

    # -- loop mode ---------------------------------------------------------

    def _on_readable(self) -> None:
        try:
            job = self._process(self._recv(_DONTWAIT))
            if job is not None:
                self._submit(job)
        except (BlockingIOError, InterruptedError):
            return
        except Exception:
            self._rt.die(EXIT_INTERNAL, INTERNAL_ERROR + traceback.format_exc())

    # -- thread mode -------------------------------------------------------

    def _thread_main(self, holder: bool) -> None:
        try:
            while True:
                if not holder:
                    self._wait_for_role()
                self._read_until_handover()
                holder = False
        except BaseException:
            self._rt.die(EXIT_INTERNAL, INTERNAL_ERROR + traceback.format_exc())

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

    def _spinning_recv(self) -> bytes:
        """``recv``, but polls the socket without sleeping for ``busy_poll_s`` first.

        A frame that arrives within that window is read without the
        kernel's sleep and wake-up (CPU traded for latency; off by default).
        """
        deadline = time.perf_counter() + self._busy_poll_s
        recv = self._recv
        while True:
            try:
                return recv(_DONTWAIT)
            except (BlockingIOError, InterruptedError):
                if time.perf_counter() >= deadline:
                    return recv()

    def _read_until_handover(self) -> None:
        """Reads and dispatches frames while this thread holds the role."""
        recv = self._spinning_recv if self._busy_poll_s > 0 else self._recv
        process = self._process
        while True:
            job = process(recv())
            if job is None:
                continue
            if not self._release():
                self._submit(job)  # the other I/O thread runs a tool: cannot hand over
                continue
            job[0].run(self._run_sync, job[1], job[2])
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
