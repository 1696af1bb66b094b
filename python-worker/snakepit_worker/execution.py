"""Running checked calls and answering them: tools, streams, credit and cancel.

A module of its own because it owns what a running call needs: the call
table (request id -> :class:`_Call`) and its lock, the thread pool, and the
rules that give each call exactly one final answer: RESULT or END, an
ERROR (see :meth:`.encoding.FrameEncoder.tool_failed`), or ``cancelled``
when CANCEL came before the answer. Plain functions run inline on an I/O
thread or in the pool (see :class:`.transport._Reader`), sync generators in
the pool, ``async`` tools and async generators as tasks on the event loop.
Streams advance one item per CREDIT and pause while the socket holds more
than :data:`WRITE_HIGH_WATER` unsent bytes. The adapter's other code that
the node triggers, the ``on_session_closed`` hook, runs here too.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import logging
import threading
from typing import TYPE_CHECKING, Any, Callable, Dict, Optional, Tuple

from . import protocol as P
from .adapter import ToolSpec
from .context import Context
from .errors import ToolCancelled
from .tracing import error_code_of, with_spans

if TYPE_CHECKING:
    from .runtime import WorkerRuntime

#: Queued output above which streams stop advancing their generators.
WRITE_HIGH_WATER = 1024 * 1024

_log = logging.getLogger("snakepit.worker")


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
        # Both guarded by Execution.lock: together they decide whether
        # the answer is the tool's or "cancelled".
        self.finished = False
        self.cancel_requested = False


#: A plain-function call ready to run: its context, the call, the arguments.
_SyncJob = Tuple[contextvars.Context, _Call, Dict[str, Any]]


class Execution:
    """Runs the calls :class:`.requests.RequestChecker` registered, and sends their answers.

    ``calls``, ``lock`` and ``executor`` are shared with the request
    checker, which registers each call and starts it. ``draining`` is set by
    SHUTDOWN: from then on each final answer lets the runtime check whether
    the worker may exit.
    """

    def __init__(self, runtime: "WorkerRuntime", concurrency: int) -> None:
        self._rt = runtime
        self.executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=concurrency, thread_name_prefix="snakepit-tool"
        )
        # Guards calls and each call's finished/cancel_requested pair; held
        # only for a few dict operations, never around user code or I/O.
        self.lock = threading.Lock()
        self.calls: Dict[int, _Call] = {}
        self.draining = False
        self._session_closed_hook = runtime.adapter.on_session_closed
        # Reached as self._rt.send(...) and self._encoder.item(...), not as
        # bound methods stored here: on CPython 3.11 a method call is the
        # cheaper of the two, and these run once per call on the hot path.
        self._encoder = runtime.encoder
        self._to_loop = runtime.to_loop

    # -- starting ----------------------------------------------------------

    def submit(self, job: _SyncJob) -> None:
        """Runs a plain function in the thread pool (when the reader cannot run it inline)."""
        run_ctx, call, kwargs = job
        self.executor.submit(run_ctx.run, self.run_sync, call, kwargs)

    def start_async(self, call: _Call, kwargs: Dict[str, Any],
                    run_ctx: contextvars.Context) -> None:
        """Starts an async tool as a task (loop thread)."""
        if call.spec.is_stream:
            call.event = asyncio.Event()
            coro = self._run_async_stream(call, kwargs)
        else:
            coro = self._run_async(call, kwargs)
        # Task creation copies the current context: do it inside run_ctx
        # (create_task's context= argument needs Python 3.11).
        task = run_ctx.run(self._rt.loop.create_task, coro)
        call.task = task
        # A task cancelled before its first step never runs the wrapper's
        # except clauses; this answers for it (and finish is idempotent).
        task.add_done_callback(lambda _t, c=call: self.finish(c, None))
        if call.cancel_requested:
            task.cancel()  # CANCEL came in the same read as the REQUEST

    # -- the final answer --------------------------------------------------

    def finish(self, call: _Call, frame: Optional[bytes]) -> None:
        """Sends the final answer of ``call``; any thread. ``None`` means cancelled."""
        with self.lock:
            if call.finished:
                return
            call.finished = True
            # Popped before the answer is written, so the node can reuse the
            # id as soon as it has the answer.
            self.calls.pop(call.id, None)
            cancelled = call.cancel_requested
        if cancelled or frame is None:
            # The node asked to cancel and has had no answer yet: whatever the
            # tool did after that, the answer is "cancelled".
            frame = self._encoder.cancelled(call)
        trace = call.ctx._trace
        if trace is not None:
            # Traced only when the node sent a traceparent: the answer carries the tool's spans.
            traced = with_spans(frame, trace.finish(call.spec.name, error_code_of(frame, P.ERROR)))
            # Spans never cost a call its answer: past the node's frame limit, they are left out.
            if len(traced) - 4 <= self._encoder.peer_max:
                frame = traced
        self._rt.send(frame)
        if self.draining:
            rt = self._rt
            if threading.get_ident() == rt.loop_thread:
                rt.maybe_exit()
            else:
                rt.loop.call_soon_threadsafe(rt.maybe_exit)

    # -- running -----------------------------------------------------------

    def run_sync(self, call: _Call, kwargs: Dict[str, Any]) -> None:
        """A plain function, on an I/O thread (inline) or in an executor thread."""
        if call.ctx._cancelled:
            frame: Optional[bytes] = None  # cancelled while queued: never started
        else:
            try:
                frame = self._encoder.item(call, P.RESULT, "result", call.spec.func(**kwargs))
            except BaseException as exc:  # SystemExit in a tool is a failure, too
                frame = (None if isinstance(exc, ToolCancelled)
                         else self._encoder.tool_failed(call, exc))
        self.finish(call, frame)

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
        sock = self._rt.sock
        while sock is not None and sock.buffered > WRITE_HIGH_WATER:
            if ctx.wait_cancelled(0.005):
                return False
        return not ctx._cancelled

    def run_sync_stream(self, call: _Call, kwargs: Dict[str, Any]) -> None:
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
                chunk = self._encoder.item(call, P.CHUNK, "item", item)
                if chunk[4] == P.ERROR:
                    frame = chunk
                    break
                with call.cond:
                    call.credit -= 1
                if not call.cancel_requested:  # the node no longer wants chunks
                    self._rt.send(chunk)
        except BaseException as exc:
            frame = None if isinstance(exc, ToolCancelled) else self._encoder.tool_failed(call, exc)
        finally:
            if gen is not None:
                try:
                    gen.close()  # runs the generator's finally blocks now
                except BaseException as exc:
                    if frame is not None and frame[4] != P.ERROR:
                        frame = self._encoder.tool_failed(call, exc)
        self.finish(call, frame)

    async def _run_async(self, call: _Call, kwargs: Dict[str, Any]) -> None:
        """An ``async def`` tool, as a task on the loop."""
        try:
            result = await call.spec.func(**kwargs)
            frame: Optional[bytes] = self._encoder.item(call, P.RESULT, "result", result)
        except (asyncio.CancelledError, ToolCancelled):
            frame = None
        except BaseException as exc:
            frame = self._encoder.tool_failed(call, exc)
        self.finish(call, frame)

    async def _run_async_stream(self, call: _Call, kwargs: Dict[str, Any]) -> None:
        """An async generator, as a task on the loop, one item per credit."""
        agen = call.spec.func(**kwargs)
        event = call.event
        sock = self._rt.sock
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
                chunk = self._encoder.item(call, P.CHUNK, "item", item)
                if chunk[4] == P.ERROR:
                    frame = chunk
                    break
                call.credit -= 1
                if not call.cancel_requested:
                    self._rt.send(chunk)
        except (asyncio.CancelledError, ToolCancelled):
            frame = None
        except BaseException as exc:
            frame = self._encoder.tool_failed(call, exc)
        try:
            await agen.aclose()
        except BaseException as exc:
            if frame is not None and frame[4] != P.ERROR:
                frame = self._encoder.tool_failed(call, exc)
        self.finish(call, frame)

    # -- CREDIT and CANCEL (I/O thread) ------------------------------------

    def on_credit(self, fid: int, body: Dict[str, Any]) -> None:
        n = body.get("n")
        if type(n) is not int or n < 0:
            raise P.ProtocolError(f"CREDIT.n must be a non-negative integer, got {n!r}")
        call = self.calls.get(fid)
        if call is None or call.finished or not call.spec.is_stream:
            return  # the stream already ended: credit races with END
        if call.cond is not None:
            with call.cond:
                call.credit += n
                call.cond.notify()
        else:
            self._to_loop(self._add_async_credit, call, n)

    @staticmethod
    def _add_async_credit(call: _Call, n: int) -> None:
        """CREDIT for an async stream (loop thread)."""
        call.credit += n
        if call.event is not None:
            call.event.set()

    def on_cancel(self, fid: int, body: Dict[str, Any]) -> None:
        with self.lock:
            call = self.calls.get(fid)
            if call is None or call.finished:
                return  # already answered: CANCEL crossed the answer
            call.cancel_requested = True
        call.ctx._set_cancelled()
        if call.spec.is_async:
            self._to_loop(self._cancel_task, call)
        if call.cond is not None:
            with call.cond:
                call.cond.notify_all()

    @staticmethod
    def _cancel_task(call: _Call) -> None:
        """CANCEL for an async tool (loop thread; after start_async, which was queued first)."""
        if call.task is not None:
            call.task.cancel()

    def cancel_all(self) -> None:
        """Cancels every running call and answers it ``cancelled`` now (SHUTDOWN's deadline)."""
        with self.lock:
            calls = list(self.calls.values())
        for call in calls:
            self.on_cancel(call.id, {})
            self.finish(call, None)

    # -- SESSION_CLOSED (I/O thread) ---------------------------------------

    def on_session_closed(self, fid: int, body: Dict[str, Any]) -> None:
        """Runs the adapter's ``on_session_closed`` hook, if any, on the loop or in the pool."""
        session_id = body.get("session_id")
        hook = self._session_closed_hook
        if type(session_id) is not str or hook is None:
            return
        if asyncio.iscoroutinefunction(hook):
            self._to_loop(self._rt.loop.create_task, self._session_closed_async(hook, session_id))
        else:
            self.executor.submit(self._session_closed_sync, hook, session_id)

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
