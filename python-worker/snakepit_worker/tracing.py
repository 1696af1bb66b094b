"""Spans a traced request records in the worker, for the node to emit.

A module of its own because tracing must cost nothing when it is off: a
request is traced only when the node's REQUEST carries a W3C
``traceparent`` (the node sends one only when its tracing is on and the
trace is sampled). Then the request gets a :class:`RequestTrace`, which
records one span for the tool's run and one for each node call the tool
makes (``ctx.call``, ``ctx.acall`` and so every ``ctx.session`` method),
and the final answer (RESULT, ERROR or END) carries them as ``"spans"``.
Without a ``traceparent`` no :class:`RequestTrace` exists and nothing here
runs. The node turns the spans into real OpenTelemetry spans, children of
its own span for the request (see docs/tracing.md and docs/protocol.md).

The worker exports nothing itself and needs no OpenTelemetry package: the
standard library only.
"""

from __future__ import annotations

import json
import random
import struct
import threading
import time
from typing import Any, Dict, List, Optional, Tuple

#: Node calls recorded per request at most; a tool calling in a tight loop
#: must not grow its answer without bound. The rest are counted in the tool
#: span's ``snakepit.spans.dropped`` attribute.
MAX_SPANS = 128

_HEADER = struct.Struct(">IBII")  # as protocol._HEADER: length, type, id, json_len
_ZERO_TRACE = "0" * 32
_ZERO_SPAN = "0" * 16
_HEX = frozenset("0123456789abcdef")
_random_bits = random.getrandbits


def _is_hex(value: str, length: int) -> bool:
    return len(value) == length and all(c in _HEX for c in value)


def parse_traceparent(value: Any) -> Optional[Tuple[str, str, str]]:
    """``(trace_id, parent_span_id, flags)`` of a W3C ``traceparent``, or None when it is not one.

    Only version ``00`` is read; a malformed value is ignored rather than
    refused: tracing is never a reason for a call to fail.
    """
    if type(value) is not str or len(value) != 55:
        return None
    parts = value.split("-")
    if len(parts) != 4 or parts[0] != "00":
        return None
    trace_id, span_id, flags = parts[1], parts[2], parts[3]
    if not (_is_hex(trace_id, 32) and _is_hex(span_id, 16) and _is_hex(flags, 2)):
        return None
    if trace_id == _ZERO_TRACE or span_id == _ZERO_SPAN:
        return None
    return trace_id, span_id, flags


def new_span_id() -> str:
    """A random, non-zero 8-byte span id, as 16 lower-case hex digits.

    From :mod:`random`, not :func:`os.urandom`: a span id needs to be unique,
    not secret, and this saves a system call per node call. ``random``
    reseeds itself in a forked child, so workers forked by the forkserver do
    not repeat each other's ids.
    """
    while True:
        bits = _random_bits(64)
        if bits:
            return f"{bits:016x}"


class RequestTrace:
    """The spans of one traced request: its tool's run, and each node call it makes.

    Node calls may come from threads the tool started, so recording takes a
    lock; the lock is held only to append to a list.
    """

    __slots__ = ("trace_id", "parent_span_id", "flags", "span_id", "start_ns", "_spans",
                 "_dropped", "_lock")

    def __init__(self, trace_id: str, parent_span_id: str, flags: str) -> None:
        self.trace_id = trace_id
        self.parent_span_id = parent_span_id
        self.flags = flags
        #: The tool span's id: the parent of every node call's span.
        self.span_id = new_span_id()
        self.start_ns = time.time_ns()
        self._spans: List[Dict[str, Any]] = []
        self._dropped = 0
        self._lock = threading.Lock()

    @classmethod
    def from_traceparent(cls, value: Any) -> Optional["RequestTrace"]:
        """A trace for a REQUEST's ``traceparent``, or None when absent or malformed."""
        parsed = parse_traceparent(value)
        return None if parsed is None else cls(*parsed)

    def traceparent(self, span_id: str) -> str:
        """The ``traceparent`` that names ``span_id`` of this trace (sent with a node call)."""
        return f"00-{self.trace_id}-{span_id}-{self.flags}"

    def record_call(self, op: str, span_id: str, start_ns: int, end_ns: int,
                    error_code: Optional[str]) -> None:
        """Records a finished node call ``op`` (``error_code`` None when it succeeded)."""
        span: Dict[str, Any] = {
            "span_id": span_id,
            "parent_span_id": self.span_id,
            "name": op,
            "start_ns": start_ns,
            "end_ns": end_ns,
            "attributes": {"snakepit.op": op},
        }
        if error_code is not None:
            span["error_code"] = error_code
        with self._lock:
            if len(self._spans) < MAX_SPANS:
                self._spans.append(span)
            else:
                self._dropped += 1

    def finish(self, tool: str, error_code: Optional[str]) -> List[Dict[str, Any]]:
        """Ends the tool's span now; returns it and the node calls' spans, tool span first."""
        tool_span: Dict[str, Any] = {
            "span_id": self.span_id,
            "parent_span_id": self.parent_span_id,
            "name": f"tool {tool}",
            "start_ns": self.start_ns,
            "end_ns": time.time_ns(),
            "attributes": {"snakepit.tool": tool},
        }
        if error_code is not None:
            tool_span["error_code"] = error_code
        with self._lock:
            spans = [tool_span] + self._spans
            if self._dropped:
                tool_span["attributes"]["snakepit.spans.dropped"] = self._dropped
        return spans


def error_code_of(frame: bytes, error_type: int) -> Optional[str]:
    """The ``code`` of an ERROR frame, or None for any other frame."""
    if len(frame) < _HEADER.size or frame[4] != error_type:
        return None
    json_len = _HEADER.unpack_from(frame)[3]
    try:
        body = json.loads(frame[_HEADER.size:_HEADER.size + json_len] or b"{}")
    except ValueError:
        return None
    code = body.get("code") if isinstance(body, dict) else None
    return code if type(code) is str else "error"


def with_spans(frame: bytes, spans: List[Dict[str, Any]]) -> bytes:
    """``frame`` with ``"spans"`` added to its JSON body; attachments and their numbers are kept.

    The body is extended in place (``{...}`` becomes ``{...,"spans":[...]}``)
    rather than decoded and encoded again: a result may be large.
    """
    length, ftype, fid, json_len = _HEADER.unpack_from(frame)
    body_end = _HEADER.size + json_len
    body = frame[_HEADER.size:body_end]
    encoded = json.dumps(spans, separators=(",", ":")).encode("utf-8")
    if json_len == 0 or body.strip() == b"{}":
        new_body = b'{"spans":' + encoded + b"}"
    else:
        end = body.rstrip()
        new_body = end[:-1] + b',"spans":' + encoded + b"}"
    new_length = length - json_len + len(new_body)
    return _HEADER.pack(new_length, ftype, fid, len(new_body)) + new_body + frame[body_end:]
