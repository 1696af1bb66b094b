"""Encoding what the worker sends: frames within the node's limit, and ERROR answers.

A module of its own because request checking (bad requests), execution
(results, chunks, failures, cancellation), node calls and log output all
build frames against one limit, the ``max_frame_bytes`` the node announced in
WELCOME, held by :class:`FrameEncoder`; and because how an exception that
escaped a tool becomes an ERROR frame (its code, qualified type, message
and traceback, each cut to fit) is one decision made in one place.
"""

from __future__ import annotations

import errno
import os
import traceback
from typing import TYPE_CHECKING, Any, Dict, List, Optional

from . import protocol as P
from .errors import TOOL_ERROR_CODES, SnakepitError

if TYPE_CHECKING:
    from .execution import _Call

#: Longest log message forwarded; the rest is cut.
MAX_LOG_MESSAGE = 256 * 1024
#: Longest traceback sent in an ERROR frame (the tail is kept).
MAX_TRACEBACK = 64 * 1024
MAX_ERROR_MESSAGE = 16 * 1024

_HERE = os.path.dirname(os.path.abspath(__file__))
#: The runtime's own modules: their frames are cut from the top of a tool's traceback.
_RUNTIME_FILES = frozenset(
    os.path.normcase(os.path.join(_HERE, name))
    for name in ("runtime.py", "transport.py", "requests.py", "execution.py",
                 "nodecalls.py", "encoding.py")
)


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
    while tb is not None and os.path.normcase(tb.tb_frame.f_code.co_filename) in _RUNTIME_FILES:
        tb = tb.tb_next
    text = "".join(traceback.format_exception(type(exc), exc, tb))
    if len(text) > MAX_TRACEBACK:
        text = "... [traceback cut]\n" + text[-MAX_TRACEBACK:]
    return text


def _limit_set(name: str) -> bool:
    raw = os.environ.get(name, "").strip()
    return raw.isdigit() and int(raw) > 0


#: The limits of ``max-memory-mb`` and ``max-open-files`` that the forkserver
#: set on this process (RLIMIT_AS, RLIMIT_NOFILE), read once.
_MEMORY_LIMITED = _limit_set("SNAKEPIT_MAX_MEMORY_MB")
_OPEN_FILES_LIMITED = _limit_set("SNAKEPIT_MAX_OPEN_FILES")


def breached_limit(exc: BaseException) -> Optional[str]:
    """The pool limit whose breach ``exc`` is (``memory``, ``open_files``), or None.

    Only with the limit set: then a MemoryError is the address-space limit
    refusing an allocation, and EMFILE the open-files limit. The node fails
    the call with ``worker_limit_exceeded`` and replaces the worker.
    """
    if _MEMORY_LIMITED and isinstance(exc, MemoryError):
        return "memory"
    if _OPEN_FILES_LIMITED and isinstance(exc, OSError) and exc.errno == errno.EMFILE:
        return "open_files"
    return None


def failure_code(exc: BaseException) -> str:
    """The ERROR code for ``exc`` escaping a tool: ``tool_failed``, or a code it may carry.

    Only the worker's own exceptions are asked (a user exception's ``code``
    means something else), and only :data:`~.errors.TOOL_ERROR_CODES` pass,
    so a tool cannot forge a code such as ``worker_crashed``.
    """
    if isinstance(exc, SnakepitError):
        try:
            code = exc.code
        except Exception:  # a subclass's property that fails
            return "tool_failed"
        if type(code) is str and code in TOOL_ERROR_CODES:
            return code
    return "tool_failed"


class FrameEncoder:
    """Encodes frames for the node within the frame limit it announced.

    ``peer_max`` starts as this worker's own limit; the runtime sets it from
    WELCOME, before any request is served.
    """

    __slots__ = ("peer_max",)

    def __init__(self, peer_max: int) -> None:
        self.peer_max = peer_max

    def encode(self, ftype: int, fid: int, body: Optional[Dict[str, Any]]) -> bytes:
        """One frame; raises :class:`~.protocol.FrameTooLargeError` above the node's limit."""
        return P.encode_frame(ftype, fid, body, self.peer_max)

    def error(self, fid: int, code: str, type_name: str, message: str,
              tb: Optional[str] = None, tools: Optional[List[str]] = None,
              limit: Optional[str] = None) -> bytes:
        """An ERROR frame, its texts cut if the whole would exceed the node's limit."""
        peer_max = self.peer_max
        body: Dict[str, Any] = {"code": code, "type": type_name, "message": message}
        if limit is not None:
            body["limit"] = limit
        if tb is not None:
            body["traceback"] = tb
        if tools is not None:
            body["tools"] = tools
        try:
            return P.encode_frame(P.ERROR, fid, body, peer_max)
        except P.FrameTooLargeError:
            # A long traceback (or tool list) against a small node limit: keep
            # the code and type, cut the text to fit.
            budget = max(16, peer_max // 8 - 256)
            body["message"] = message[:budget]
            if tb is not None:
                body["traceback"] = "... [traceback cut]\n" + tb[-budget:]
            body.pop("tools", None)
            try:
                return P.encode_frame(P.ERROR, fid, body, peer_max)
            except P.FrameTooLargeError:
                return P.encode_frame(P.ERROR, fid, {"code": code, "type": type_name[:64],
                                                     "message": "(too large to send)"})

    def tool_failed(self, call: "_Call", exc: BaseException) -> bytes:
        """The ERROR answer for an exception that escaped the tool (see :func:`failure_code`)."""
        limit = breached_limit(exc)
        if limit is not None:
            return self.error(call.id, "worker_limit_exceeded", _qualified_name(type(exc)),
                              _safe_str(exc), _format_traceback(exc), limit=limit)
        return self.error(call.id, failure_code(exc), _qualified_name(type(exc)),
                          _safe_str(exc), _format_traceback(exc))

    def cancelled(self, call: "_Call") -> bytes:
        return self.error(call.id, "cancelled", "CancelledError",
                          f"tool {call.spec.name!r} was cancelled")

    def item(self, call: "_Call", ftype: int, key: str, value: Any) -> bytes:
        """RESULT/CHUNK frame for ``value``, or a tool_failed ERROR if it cannot be sent."""
        try:
            return P.encode_frame(ftype, call.id, {key: value}, self.peer_max)
        except P.FrameTooLargeError as exc:
            type_name = "snakepit_worker.protocol.FrameTooLargeError"
            problem = (f"a value too large to send: {exc}; "
                       "return less data or stream it in chunks")
        except TypeError as exc:
            type_name = "TypeError"
            problem = (f"a value that is not JSON-serialisable: {exc}. "
                       "Use dicts, lists, str, int, float, bool, None or bytes")
        except (ValueError, RecursionError) as exc:
            type_name = type(exc).__name__
            problem = f"a value that cannot be sent as JSON: {exc}"
        what = "returned" if ftype == P.RESULT else "yielded"
        return self.error(call.id, "tool_failed", type_name,
                          f"tool {call.spec.name!r} {what} {problem}")

    def log(self, level: str, logger: str, message: str, correlation_id: Optional[str],
            session_id: Optional[str], request_id: int, stream: Optional[str]) -> bytes:
        """A LOG frame; a message over :data:`MAX_LOG_MESSAGE` (or the node's limit) is cut."""
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
            return P.encode_frame(P.LOG, fid, body, self.peer_max)
        except P.FrameTooLargeError:
            # Only with a node limit far below the default: cut harder (a
            # character may take 6 bytes as a JSON escape) rather than send
            # a frame the node would treat as a protocol error.
            body["message"] = message[:max(0, self.peer_max // 6 - 256)] + "... [cut]"
            return P.encode_frame(P.LOG, fid, body, self.peer_max)
