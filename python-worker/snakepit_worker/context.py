"""The per-request :class:`Context` a tool receives, and its :class:`Session` view."""

from __future__ import annotations

import logging
import threading
import time
from contextlib import contextmanager
from typing import Any, Dict, Iterator, MutableMapping, Optional, Tuple

from .errors import NodeCallError, SessionUnavailableError, ToolCancelled
from .tracing import RequestTrace, new_span_id

_EVENT_LOCK = threading.Lock()

#: Parent of every ``ctx.logger``. The runtime sets it to INFO so that
#: ``ctx.logger.info(...)`` reaches the node even when the root logger keeps
#: Python's default WARNING level.
TOOLS_LOGGER_NAME = "snakepit.tools"


class NodeLink:
    """What a :class:`Context` needs from the runtime to reach the node.

    The runtime implements it; tests of user code can pass a fake.
    """

    def call(self, op: str, args: Dict[str, Any], ctx: Optional["Context"]) -> Any:
        """Sends ``CALL`` and blocks until ``CALL_RESULT``."""
        raise NotImplementedError

    async def acall(self, op: str, args: Dict[str, Any]) -> Any:
        """Sends ``CALL`` and awaits ``CALL_RESULT``."""
        raise NotImplementedError


class _ContextLogger(logging.LoggerAdapter):
    """Adds the request's ids to every record, merged with the caller's ``extra``.

    The runtime's handler also finds the ids through a context variable; the
    explicit ``extra`` keeps them when user code logs from a thread it started
    itself, where that variable is not set.
    """

    def process(self, msg: Any,
                kwargs: MutableMapping[str, Any]) -> Tuple[Any, MutableMapping[str, Any]]:
        extra = kwargs.get("extra")
        kwargs["extra"] = dict(self.extra, **extra) if extra else self.extra
        return msg, kwargs


class Context:
    """Everything a tool may want to know about the call it is serving.

    A tool receives it by declaring a parameter named ``ctx`` (or one
    annotated ``Context``). It is only valid while that call runs.

    Attributes:
        tool: the tool's name.
        request_id: the node's id for this request.
        session_id: the session the call belongs to, or ``None``.
        correlation_id: the id to quote in logs and bug reports.
        worker_id: this worker's id, e.g. ``"default-3.1"``.
        node_id: the id of the node that runs this worker.
        timeout_ms: the caller's timeout, if the node sent one.
    """

    __slots__ = (
        "tool",
        "request_id",
        "session_id",
        "correlation_id",
        "worker_id",
        "node_id",
        "timeout_ms",
        "_cancelled",
        "_event",
        "_link",
        "_logger",
        "_session",
        "_trace",
    )

    def __init__(
        self,
        tool: str,
        request_id: int,
        session_id: Optional[str],
        correlation_id: Optional[str],
        worker_id: str,
        node_id: str,
        link: NodeLink,
        timeout_ms: Optional[int] = None,
        trace: Optional[RequestTrace] = None,
    ) -> None:
        self.tool = tool
        self.request_id = request_id
        self.session_id = session_id
        self.correlation_id = correlation_id
        self.worker_id = worker_id
        self.node_id = node_id
        self.timeout_ms = timeout_ms
        # The flag is a plain bool for the hot path; the threading.Event that
        # lets sync tools block on it (wait_cancelled) is made on first use,
        # since most calls never wait on it. See _set_cancelled for the race.
        self._cancelled = False
        self._event: Optional[threading.Event] = None
        self._link = link
        self._logger: Optional[logging.LoggerAdapter] = None
        self._session: Optional[Session] = None
        # None unless the node traces this request (its REQUEST carried a traceparent):
        # then each node call is recorded as a span, see tracing.py.
        self._trace = trace

    # -- cancellation ------------------------------------------------------

    @property
    def cancelled(self) -> bool:
        """True once the node has cancelled this request."""
        return self._cancelled

    def is_cancelled(self) -> bool:
        """Same as :attr:`cancelled`."""
        return self._cancelled

    def raise_if_cancelled(self) -> None:
        """Raises :class:`ToolCancelled` if the node has cancelled this request."""
        if self._cancelled:
            raise ToolCancelled(f"tool {self.tool!r} was cancelled")

    def wait_cancelled(self, timeout: Optional[float] = None) -> bool:
        """Blocks up to ``timeout`` seconds; returns True as soon as the request is cancelled.

        Handy as a cancellable ``time.sleep`` in sync tools.
        """
        return self.cancel_event().wait(timeout)

    def cancel_event(self) -> threading.Event:
        """The ``threading.Event`` that is set when the request is cancelled."""
        event = self._event
        if event is None:
            with _EVENT_LOCK:
                event = self._event
                if event is None:
                    event = threading.Event()
                    if self._cancelled:
                        event.set()
                    self._event = event
        return event

    def _set_cancelled(self) -> None:
        """Marks the request cancelled (runtime only; any thread)."""
        # Flag first, then the event under the lock cancel_event() creates it
        # under: whichever runs second sees the other's work, so a waiter can
        # never miss the cancellation.
        self._cancelled = True
        with _EVENT_LOCK:
            event = self._event
        if event is not None:
            event.set()

    # -- logging -----------------------------------------------------------

    @property
    def logger(self) -> logging.LoggerAdapter:
        """A logger whose records reach the node with this call's correlation and session ids."""
        if self._logger is None:
            base = logging.getLogger(f"{TOOLS_LOGGER_NAME}.{self.tool}")
            self._logger = _ContextLogger(
                base,
                {
                    "correlation_id": self.correlation_id,
                    "session_id": self.session_id,
                    "request_id": self.request_id,
                },
            )
        return self._logger

    # -- node calls --------------------------------------------------------

    def call(self, op: str, /, **args: Any) -> Any:
        """Calls a node operation and blocks for its result (sync tools only).

        Raises:
            NodeCallError: the node answered with an error.
            ToolCancelled: the request was cancelled while waiting.
            RuntimeError: called from the event loop (an ``async`` tool);
                use :meth:`acall` there.
        """
        trace = self._trace
        if trace is None:
            return self._link.call(op, args, self)
        with _traced_call(trace, op, args):
            return self._link.call(op, args, self)

    async def acall(self, op: str, /, **args: Any) -> Any:
        """Calls a node operation from an ``async`` tool.

        Raises:
            NodeCallError: the node answered with an error.
        """
        trace = self._trace
        if trace is None:
            return await self._link.acall(op, args)
        with _traced_call(trace, op, args):
            return await self._link.acall(op, args)

    # -- session -----------------------------------------------------------

    @property
    def session(self) -> "Session":
        """The session this call runs in (variables and metadata, stored by the node).

        Raises:
            SessionUnavailableError: the call was made without a session.
        """
        if self._session is None:
            if not self.session_id:
                raise SessionUnavailableError(
                    f"tool {self.tool!r} was called without a session, so ctx.session is "
                    "unavailable (correlation id "
                    f"{self.correlation_id}). Call it inside a session instead: over HTTP "
                    "POST /v1/sessions/{id}/execute, or pass a session id with the Java / "
                    "event-bus client. Tools meant to run without one can check "
                    "ctx.session_id first."
                )
            self._session = Session(self)
        return self._session

    def __repr__(self) -> str:
        return (
            f"Context(tool={self.tool!r}, request_id={self.request_id}, "
            f"session_id={self.session_id!r}, correlation_id={self.correlation_id!r})"
        )


@contextmanager
def _traced_call(trace: RequestTrace, op: str, args: Dict[str, Any]) -> Iterator[None]:
    """Records one node call, sync or async, as a span of the traced request."""
    span_id, start_ns = new_span_id(), time.time_ns()
    # The node makes its own span of the operation a child of this one.
    args["traceparent"] = trace.traceparent(span_id)
    try:
        yield
    except BaseException as exc:
        trace.record_call(op, span_id, start_ns, time.time_ns(), _call_error_code(exc))
        raise
    trace.record_call(op, span_id, start_ns, time.time_ns(), None)


def _call_error_code(exc: BaseException) -> str:
    """The error code a failed node call's span carries: the node's code, or what stopped it."""
    if isinstance(exc, NodeCallError):
        return exc.code
    if isinstance(exc, ToolCancelled):
        return "cancelled"
    return type(exc).__name__


class Session:
    """Session variables and metadata, kept by the node's session store.

    Every method is a round trip to the node (``CALL``), so read what you
    need once rather than in a tight loop. Sync methods are for sync tools;
    ``async`` tools use the ``a``-prefixed variants. Updates are not atomic
    across calls: a read-modify-write of the same variable from two
    concurrent calls can lose one update. To count, use :meth:`incr`: it is
    one atomic step on the node, and its counter stays exact even across a
    network partition.
    """

    __slots__ = ("_ctx", "id")

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx
        #: The session id.
        self.id: str = ctx.session_id  # type: ignore[assignment]

    # -- sync --------------------------------------------------------------

    def get(self, name: str, default: Any = None) -> Any:
        """The variable's value, or ``default`` if it is not set."""
        try:
            value = self._ctx.call("session.get_var", session_id=self.id, name=name)
        except NodeCallError as exc:
            if exc.code == "not_found":
                return default
            raise
        return default if value is None else value

    def set(self, name: str, value: Any) -> None:
        """Sets a variable (JSON value or bytes)."""
        self._ctx.call("session.put_var", session_id=self.id, name=name, value=value)

    def delete(self, name: str) -> None:
        """Removes a variable; removing a missing one is not an error."""
        self._ctx.call("session.delete_var", session_id=self.id, name=name)

    def incr(self, name: str, by: int = 1) -> int:
        """Adds ``by`` to the counter ``name`` (starting at 0) and returns its new value.

        Atomic, and exact across network partitions: increments made on both
        sides all count once the sides merge. A counter only moves by
        increments (``set`` and ``delete`` on it raise ``NodeCallError`` with
        code ``bad_request``) and goes with its session; ``get`` reads it.
        """
        return int(self._ctx.call("session.incr", session_id=self.id, name=name, by=by))

    def all(self) -> Dict[str, Any]:
        """All variables, as a dict."""
        return self._ctx.call("session.vars", session_id=self.id) or {}

    def get_meta(self, key: str, default: Any = None) -> Any:
        """A metadata entry, or ``default``."""
        try:
            value = self._ctx.call("session.get_meta", session_id=self.id, key=key)
        except NodeCallError as exc:
            if exc.code == "not_found":
                return default
            raise
        return default if value is None else value

    def set_meta(self, key: str, value: Any) -> None:
        """Sets a metadata entry."""
        self._ctx.call("session.put_meta", session_id=self.id, key=key, value=value)

    # -- async -------------------------------------------------------------

    async def aget(self, name: str, default: Any = None) -> Any:
        """Async :meth:`get`."""
        try:
            value = await self._ctx.acall("session.get_var", session_id=self.id, name=name)
        except NodeCallError as exc:
            if exc.code == "not_found":
                return default
            raise
        return default if value is None else value

    async def aset(self, name: str, value: Any) -> None:
        """Async :meth:`set`."""
        await self._ctx.acall("session.put_var", session_id=self.id, name=name, value=value)

    async def adelete(self, name: str) -> None:
        """Async :meth:`delete`."""
        await self._ctx.acall("session.delete_var", session_id=self.id, name=name)

    async def aincr(self, name: str, by: int = 1) -> int:
        """Async :meth:`incr`."""
        return int(await self._ctx.acall("session.incr", session_id=self.id, name=name, by=by))

    async def aall(self) -> Dict[str, Any]:
        """Async :meth:`all`."""
        return await self._ctx.acall("session.vars", session_id=self.id) or {}

    async def aget_meta(self, key: str, default: Any = None) -> Any:
        """Async :meth:`get_meta`."""
        try:
            value = await self._ctx.acall("session.get_meta", session_id=self.id, key=key)
        except NodeCallError as exc:
            if exc.code == "not_found":
                return default
            raise
        return default if value is None else value

    async def aset_meta(self, key: str, value: Any) -> None:
        """Async :meth:`set_meta`."""
        await self._ctx.acall("session.put_meta", session_id=self.id, key=key, value=value)

    def __repr__(self) -> str:
        return f"Session({self.id!r})"
