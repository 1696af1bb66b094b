"""Checking a REQUEST: from its body to a registered call, or to an ERROR answer.

A module of its own because everything a caller can get wrong is caught
here, before any tool code runs: an id outside the node's range or already
in use (a protocol error), a tool the adapter does not offer
(``unknown_tool``, with the list), a stream flag that does not match the
tool, ``args`` that are not an object or do not fit the signature, a bad
``credit`` (``bad_request``), and requests after SHUTDOWN (``cancelled``).
Argument checks use the names :class:`.adapter.ToolSpec` precomputed, not
``Signature.bind``.

A request that passes becomes a :class:`.execution._Call` registered in the
execution's call table and started. The start is the last lines of
:meth:`RequestChecker.on_request` rather than a call into
:mod:`.execution`: on the hot path (see ``runtime.py``) a plain function is
returned to the reader to run inline, with no further call in between.
"""

from __future__ import annotations

import contextvars
import threading
from typing import TYPE_CHECKING, Any, Dict, List, Optional

from . import protocol as P
from .adapter import RESERVED_PREFIX, ToolSpec
from .context import Context
from .execution import _Call, _SyncJob
from .stdio import CURRENT_CONTEXT
from .tracing import RequestTrace

if TYPE_CHECKING:
    from .runtime import WorkerRuntime


class RequestChecker:
    """Handles REQUEST frames (on the I/O thread that read them).

    ``closed`` is set by SHUTDOWN: later requests are answered ``cancelled``.
    """

    def __init__(self, runtime: "WorkerRuntime") -> None:
        tools = runtime.adapter.tools
        self._tools: Dict[str, ToolSpec] = tools
        self._tool_names: List[str] = sorted(n for n in tools if not n.startswith(RESERVED_PREFIX))
        self._worker_id = runtime.config.worker_id
        self._node_id = runtime.config.node_id
        self._link = runtime.node_calls
        self._send = runtime.send
        self._to_loop = runtime.to_loop
        self._error = runtime.encoder.error
        execution = runtime.execution
        self._calls = execution.calls
        self._lock = execution.lock
        self._executor = execution.executor
        self._start_async = execution.start_async
        self._run_sync_stream = execution.run_sync_stream
        self.closed = False

    def _refuse(self, fid: int, code: str, type_name: str, message: str,
                tools: Optional[List[str]] = None) -> None:
        self._send(self._error(fid, code, type_name, message, tools=tools))

    def on_request(self, fid: int, body: Dict[str, Any]) -> Optional[_SyncJob]:
        """Checks and registers a request; returns it if it is a plain function.

        Async tools are started on the event loop and sync generators go to
        the thread pool from here; a plain function is returned to the
        reader, which runs it inline or submits it (see :class:`.transport._Reader`).
        """
        if fid == 0 or fid & P.WORKER_ID_BIT:
            raise P.ProtocolError(f"REQUEST id {fid} is outside the node's range 1..2^31-1")
        if fid in self._calls:
            raise P.ProtocolError(f"REQUEST id {fid} is already in use by a running request")
        if self.closed:
            self._refuse(fid, "cancelled", "CancelledError",
                         "the worker is shutting down and takes no new requests")
            return None
        name = body.get("tool")
        spec = self._tools.get(name) if type(name) is str else None
        if spec is None:
            if type(name) is not str:
                self._refuse(fid, "bad_request", "ValueError", "REQUEST.tool must be a string")
            else:
                self._refuse(fid, "unknown_tool", "LookupError",
                             f"unknown tool {name!r}; this worker offers: "
                             f"{', '.join(self._tool_names)}", tools=self._tool_names)
            return None
        stream = body.get("stream", False)
        if stream is not spec.is_stream:
            if spec.is_stream:
                msg = f"tool {name!r} is a streaming tool: call it as a stream"
            else:
                msg = f"tool {name!r} is not a streaming tool: call it without stream"
            self._refuse(fid, "bad_request", "ValueError", msg)
            return None
        args = body.get("args")
        if args is None:
            args = {}
        elif type(args) is not dict:
            self._refuse(fid, "bad_request", "TypeError",
                         f"REQUEST.args must be an object, not {type(args).__name__}")
            return None
        session_id = body.get("session_id") or None
        correlation_id = body.get("correlation_id")
        timeout_ms = body.get("timeout_ms")
        if session_id is not None and type(session_id) is not str:
            session_id = str(session_id)
        if correlation_id is not None and type(correlation_id) is not str:
            correlation_id = str(correlation_id)
        traceparent = body.get("traceparent")
        ctx = Context(name, fid, session_id, correlation_id, self._worker_id, self._node_id,
                      self._link, timeout_ms if type(timeout_ms) is int else None,
                      None if traceparent is None else RequestTrace.from_traceparent(traceparent))
        try:
            kwargs = spec.bind(args, ctx)
        except TypeError as exc:
            self._refuse(fid, "bad_request", "TypeError", str(exc))
            return None
        call = _Call(fid, spec, ctx)
        if spec.is_stream:
            credit = body.get("credit", 0)
            if type(credit) is not int or credit < 0:
                self._refuse(fid, "bad_request", "ValueError",
                             "REQUEST.credit must be a non-negative integer")
                return None
            call.credit = credit
        # Checked: from here on the call belongs to execution.
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
