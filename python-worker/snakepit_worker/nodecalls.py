"""Calls from tools to the node: CALL out, CALL_RESULT back.

A module of its own because here the worker is the client: it numbers its
own CALL ids (top bit set, so they never collide with the node's request
ids), keeps a future per pending call (a ``concurrent.futures.Future`` for
tool threads, an asyncio future for ``async`` tools) and completes it from
the CALL_RESULT the reader dispatches, turning an error answer into
:class:`.errors.NodeCallError`. A :class:`.context.Context` reaches it
through the :class:`.context.NodeLink` interface (``ctx.call``,
``ctx.acall`` and every ``ctx.session`` method).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import itertools
import threading
from typing import TYPE_CHECKING, Any, Dict, Optional, Tuple

from . import protocol as P
from .context import Context, NodeLink
from .errors import NodeCallError, ToolCancelled

if TYPE_CHECKING:
    from .runtime import WorkerRuntime


class NodeCalls(NodeLink):
    """The runtime's :class:`.context.NodeLink`: CALLs to the node and their results."""

    def __init__(self, runtime: "WorkerRuntime") -> None:
        self._rt = runtime
        self._pending: Dict[int, Any] = {}  # CALL id -> concurrent or asyncio Future
        self._ids = itertools.count()
        self._encoder = runtime.encoder
        self._send = runtime.send
        self._to_loop = runtime.to_loop

    def _call_frame(self, op: str, args: Dict[str, Any]) -> Tuple[int, bytes]:
        if type(op) is not str or not op:
            raise TypeError("op must be a non-empty string such as 'session.get_var'")
        if "op" in args:
            raise TypeError("'op' cannot also be passed as an argument")
        # Worker-initiated ids carry the top bit, so they never collide with the node's.
        cid = P.WORKER_ID_BIT | (next(self._ids) & 0x7FFFFFFF)
        body = {"op": op}
        body.update(args)
        return cid, self._encoder.encode(P.CALL, cid, body)

    def call(self, op: str, args: Dict[str, Any], ctx: Optional[Context]) -> Any:
        """Blocking node call for tool threads (see :meth:`Context.call`)."""
        rt = self._rt
        if threading.get_ident() == rt.loop_thread:
            raise RuntimeError(
                "ctx.call() and the sync ctx.session methods block, so they cannot run on the "
                "event loop (in an async tool); use 'await ctx.acall(...)' and "
                "ctx.session.aget/aset/adelete/aall instead")
        if rt.sock is None or not rt.ready:
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
        loop = self._rt.loop
        if loop is None or threading.get_ident() != self._rt.loop_thread:
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

    def on_call_result(self, fid: int, body: Dict[str, Any]) -> None:
        """CALL_RESULT (I/O thread): completes the waiting call, if it still waits."""
        fut = self._pending.pop(fid, None)
        if fut is None:
            return  # the caller gave up (cancelled)
        if isinstance(fut, asyncio.Future):
            # acall() awaits it on the loop; asyncio futures are not thread-safe.
            self._to_loop(self._resolve, fut, body)
        else:
            self._resolve(fut, body)

    @staticmethod
    def _resolve(fut: Any, body: Dict[str, Any]) -> None:
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
