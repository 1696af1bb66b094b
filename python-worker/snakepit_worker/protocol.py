"""Frame codec for the Snakepit worker protocol, version 1.

The contract is ``docs/protocol.md``. Every frame, in both directions::

    u32 length | u8 type | u32 id | u32 json_len | json | attachments...

All integers are big-endian. ``length`` counts the bytes that follow the
length field (so it is at least 9) and is what the frame-size limit applies
to, exactly as the node's ``FrameCodec`` does. Each attachment is a u32 length
followed by that many bytes; inside the JSON, ``{"$att": k}`` stands for
attachment ``k``.

This module has no asyncio dependency apart from :func:`read_frame`, so the
same code serves the worker runtime, the tests' fake node and benchmarks.
"""

from __future__ import annotations

import json
import struct
from typing import Any, Dict, List, NamedTuple, Optional, Tuple

PROTOCOL_VERSION = 1

# Frame type codes (docs/protocol.md, "Frame types").
HELLO = 1
WELCOME = 2
REJECT = 3
REQUEST = 4
RESULT = 5
ERROR = 6
CHUNK = 7
END = 8
CREDIT = 9
CANCEL = 10
PING = 11
PONG = 12
LOG = 13
CALL = 14
CALL_RESULT = 15
SHUTDOWN = 16
SESSION_CLOSED = 17

FRAME_NAMES: Dict[int, str] = {
    HELLO: "HELLO",
    WELCOME: "WELCOME",
    REJECT: "REJECT",
    REQUEST: "REQUEST",
    RESULT: "RESULT",
    ERROR: "ERROR",
    CHUNK: "CHUNK",
    END: "END",
    CREDIT: "CREDIT",
    CANCEL: "CANCEL",
    PING: "PING",
    PONG: "PONG",
    LOG: "LOG",
    CALL: "CALL",
    CALL_RESULT: "CALL_RESULT",
    SHUTDOWN: "SHUTDOWN",
    SESSION_CLOSED: "SESSION_CLOSED",
}

#: Frames the node sends to a worker; anything else arriving at a worker is a
#: protocol error.
NODE_TO_WORKER = frozenset(
    {WELCOME, REJECT, REQUEST, CREDIT, CANCEL, PING, CALL_RESULT, SHUTDOWN, SESSION_CLOSED}
)
#: Frames a worker sends to the node.
WORKER_TO_NODE = frozenset({HELLO, RESULT, ERROR, CHUNK, END, PONG, LOG, CALL})

#: Bytes after the length field that every frame has: type, id, json_len.
MIN_FRAME = 9
#: Default limit on ``length`` (16 MiB), the node's default ``max-frame-bytes``.
DEFAULT_MAX_FRAME_BYTES = 16 * 1024 * 1024
#: Largest value a u32 field can hold.
U32_MAX = 0xFFFFFFFF
#: Node request ids are 1..2^31-1; worker CALL ids have this bit set.
WORKER_ID_BIT = 0x80000000

ATT_KEY = "$att"

_HEADER = struct.Struct(">IBII")  # length, type, id, json_len: 13 bytes
_U32 = struct.Struct(">I")
HEADER_SIZE = _HEADER.size

# One shared encoder: JSONEncoder.encode() keeps no state between calls, and
# reusing it avoids building a new encoder per frame (json.dumps with
# non-default arguments does that). ensure_ascii keeps lone surrogates legal
# on the wire; allow_nan=False because NaN/Infinity are not JSON and the Java
# parser would reject the whole frame.
_ENCODER = json.JSONEncoder(separators=(",", ":"), allow_nan=False)


def _make_fast_encode() -> Any:
    """``_ENCODER.encode`` without its Python layers (``encode`` -> ``iterencode``).

    Builds the C encoder directly, as ``iterencode`` does, with a fresh
    ``markers`` dict per call so circular data is still reported as such.
    Saves about a third of a microsecond per frame. Falls back to
    ``_ENCODER.encode`` when the C accelerator is missing or its signature
    is not the one this was written for.
    """
    make = getattr(json.encoder, "c_make_encoder", None)
    basestring = getattr(json.encoder, "c_encode_basestring_ascii", None)
    if make is None or basestring is None:
        return _ENCODER.encode
    default = _ENCODER.default
    join = "".join

    def encode(o: Any) -> str:
        if type(o) is str:
            return basestring(o)
        return join(make({}, default, basestring, None, ":", ",", False, False, False)(o, 0))

    try:
        sample = {"a": [1, 2.5, "\u00e9", None, True], "b": {}}
        if encode(sample) != _ENCODER.encode(sample):
            return _ENCODER.encode
        encode({"x": float("nan")})
        return _ENCODER.encode  # allow_nan did not take: not the expected signature
    except ValueError:
        return encode
    except Exception:
        return _ENCODER.encode


_encode_json = _make_fast_encode()

# The C scanner behind json.loads, called directly: json.loads adds a str
# check, two whitespace regex matches and a Python-level decode() on top,
# about two thirds of a microsecond for a small REQUEST. Thread-safe: it
# holds the GIL for the whole scan and clears its memo after each call.
_scan_json = json.JSONDecoder().scan_once


class ProtocolError(Exception):
    """A frame broke the rules of docs/protocol.md.

    The receiver logs it, answers nothing and closes the connection.
    """


class FrameTooLargeError(ValueError):
    """An outgoing frame would exceed the peer's ``max_frame_bytes``."""


class Frame(NamedTuple):
    """A decoded frame. ``body`` has its attachment placeholders resolved to bytes."""

    type: int
    id: int
    body: Dict[str, Any]

    @property
    def name(self) -> str:
        """The frame type's name, e.g. ``"REQUEST"``."""
        return FRAME_NAMES.get(self.type, str(self.type))


# --------------------------------------------------------------------------
# Encoding
# --------------------------------------------------------------------------

_BINARY_TYPES = (bytes, bytearray, memoryview)


def _is_placeholder_like(value: Any) -> bool:
    """True for a dict the node would read as an attachment placeholder."""
    if type(value) is not dict or len(value) != 1 or ATT_KEY not in value:
        return False
    k = value[ATT_KEY]
    # The node treats any JSON number as an index (bool is not a number there).
    return isinstance(k, (int, float)) and not isinstance(k, bool)


def _find_placeholder_like(value: Any) -> bool:
    """Walks ``value`` looking for user data shaped like ``{"$att": n}``."""
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, dict):
            if _is_placeholder_like(v):
                return True
            stack.extend(v.values())
        elif isinstance(v, (list, tuple)):
            stack.extend(v)
    return False


def encode_json(body: Any) -> Tuple[bytes, List[bytes]]:
    """Serialises ``body`` to compact UTF-8 JSON, extracting binary values.

    ``bytes``, ``bytearray`` and ``memoryview`` values anywhere in ``body``
    become ``{"$att": k}`` placeholders and are returned, in order, as the
    attachment list.

    Raises:
        TypeError: a value is not JSON-serialisable.
        ValueError: a float is NaN/infinite, or the data contains a dict
            ``{"$att": <number>}``, which the protocol reserves for
            placeholders and which the node would misread.
    """
    try:
        text = _encode_json(body)
        attachments: List[bytes] = []
    except TypeError:
        # Slow path, taken only when the body holds bytes (or something that
        # cannot be serialised at all): a per-call encoder whose default hook
        # collects the attachments.
        attachments = []

        def _default(o: Any) -> Any:
            if isinstance(o, _BINARY_TYPES):
                attachments.append(o if type(o) is bytes else bytes(o))
                return {ATT_KEY: len(attachments) - 1}
            raise TypeError(f"Object of type {type(o).__name__} is not JSON serializable")

        text = json.dumps(body, separators=(",", ":"), allow_nan=False, default=_default)
    # '"$att"' can only appear in the output as a key or as the exact string
    # "$att", so this substring test keeps the precise walk off the hot path.
    if '"$att"' in text and _find_placeholder_like(body):
        raise ValueError(
            'the data contains a dict of the form {"$att": <number>}, which the worker '
            "protocol reserves for binary attachments; rename the key"
        )
    return text.encode("utf-8"), attachments


def encode_frame_parts(
    ftype: int, fid: int, json_bytes: bytes, attachments: Optional[List[bytes]] = None
) -> bytes:
    """Assembles a frame from already-encoded JSON and attachments."""
    json_len = len(json_bytes)
    length = MIN_FRAME + json_len
    if not attachments:
        return _HEADER.pack(length, ftype, fid, json_len) + json_bytes
    parts = [b"", json_bytes]
    for att in attachments:
        parts.append(_U32.pack(len(att)))
        parts.append(att)
        length += 4 + len(att)
    if length > U32_MAX:
        raise FrameTooLargeError(f"frame of {length} bytes does not fit the u32 length field")
    parts[0] = _HEADER.pack(length, ftype, fid, json_len)
    return b"".join(parts)


def encode_frame(
    ftype: int,
    fid: int,
    body: Optional[Dict[str, Any]] = None,
    max_frame_bytes: Optional[int] = None,
) -> bytes:
    """Encodes one frame, ready to write.

    Args:
        ftype: frame type code.
        fid: request id (0 for connection-level frames), 0..2^32-1.
        body: the JSON object; ``None`` or ``{}`` is sent as ``json_len`` 0.
        max_frame_bytes: if given, raise :class:`FrameTooLargeError` instead of
            producing a frame the peer would refuse.

    Raises:
        TypeError, ValueError: see :func:`encode_json`.
        FrameTooLargeError: the frame exceeds ``max_frame_bytes``.
    """
    if body:
        json_bytes, attachments = encode_json(body)
    else:
        json_bytes, attachments = b"", []
    frame = encode_frame_parts(ftype, fid, json_bytes, attachments)
    if max_frame_bytes is not None and len(frame) - 4 > max_frame_bytes:
        raise FrameTooLargeError(
            f"{FRAME_NAMES.get(ftype, ftype)} frame of {len(frame) - 4} bytes exceeds "
            f"max_frame_bytes {max_frame_bytes}"
        )
    return frame


# --------------------------------------------------------------------------
# Decoding
# --------------------------------------------------------------------------


def _resolve_hook(attachments: List[bytes]) -> Any:
    """An ``object_hook`` that turns placeholders into attachment bytes."""
    count = len(attachments)

    def hook(obj: Dict[str, Any]) -> Any:
        if len(obj) == 1 and ATT_KEY in obj:
            k = obj[ATT_KEY]
            if isinstance(k, (int, float)) and not isinstance(k, bool):
                if k != int(k) or not 0 <= k < count:
                    raise ProtocolError(f"placeholder names attachment {k} of {count}")
                return attachments[int(k)]
        return obj

    return hook


def decode_body(payload: bytes, start: int, end: int, json_len: int) -> Dict[str, Any]:
    """Decodes the part of a frame after its 9-byte fixed header.

    ``payload[start:end]`` is the frame after the length field; ``json_len``
    was already read from it.
    """
    json_start = start + MIN_FRAME
    if json_len > end - json_start:
        raise ProtocolError(f"json_len {json_len} runs past the end of the frame")
    json_end = json_start + json_len
    attachments: List[bytes] = []
    pos = json_end
    while pos < end:
        if end - pos < 4:
            raise ProtocolError("truncated attachment length")
        (alen,) = _U32.unpack_from(payload, pos)
        pos += 4
        if alen > end - pos:
            raise ProtocolError(f"attachment of {alen} bytes runs past the end of the frame")
        # One copy, straight from the receive buffer into the value the tool sees.
        with memoryview(payload) as mv:
            attachments.append(bytes(mv[pos:pos + alen]))
        pos += alen
    if json_len == 0:
        return {}
    raw = payload[json_start:json_end]
    try:
        text = raw.decode("utf-8") if not isinstance(raw, str) else raw
        # Placeholders are only resolved when the frame carries attachments,
        # as the node does; plain frames keep the C fast path of json.loads.
        if attachments:
            body = json.loads(text, object_hook=_resolve_hook(attachments))
        else:
            try:
                body, end = _scan_json(text, 0)
            except StopIteration:
                end = -1
            if end != len(text):
                # Leading or trailing whitespace, or not JSON: the full parser
                # accepts the former and words the error for the latter.
                body = json.loads(text)
    except ProtocolError:
        raise
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ProtocolError(f"frame body is not valid JSON: {exc}") from None
    if type(body) is not dict:
        raise ProtocolError(f"frame body is a JSON {type(body).__name__}, not an object")
    return body


class FrameDecoder:
    """Incremental decoder: feed it bytes as they arrive, get whole frames back.

    Not thread-safe; one instance per connection, used from its event loop.
    """

    __slots__ = ("max_frame_bytes", "_buf", "_known")

    def __init__(self, max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES,
                 known_types: Optional[frozenset] = None) -> None:
        """
        Args:
            max_frame_bytes: largest accepted ``length`` field.
            known_types: frame types this receiver accepts; any other type is a
                protocol error. Defaults to every type of the protocol.
        """
        self.max_frame_bytes = max_frame_bytes
        self._buf = bytearray()
        self._known = known_types if known_types is not None else frozenset(FRAME_NAMES)

    def feed(self, data: bytes) -> List[Frame]:
        """Adds ``data`` and returns the frames it completes, in order.

        Raises:
            ProtocolError: the stream is malformed; the decoder must not be
                used again.
        """
        buf = self._buf
        if buf:
            buf += data
            view: Any = buf
        else:
            # Common case: nothing pending, so parse the received bytes in place.
            view = data
        frames: List[Frame] = []
        pos = 0
        size = len(view)
        max_len = self.max_frame_bytes
        unpack = _HEADER.unpack_from
        while size - pos >= 4:
            (length,) = _U32.unpack_from(view, pos)
            # Check the declared length before waiting for the bytes, so a
            # bogus length cannot make us buffer gigabytes.
            if length < MIN_FRAME:
                raise ProtocolError(f"frame length {length} is below the minimum of {MIN_FRAME}")
            if length > max_len:
                raise ProtocolError(f"frame of {length} bytes exceeds max-frame-bytes {max_len}")
            end = pos + 4 + length
            if size < end:
                break
            _, ftype, fid, json_len = unpack(view, pos)
            if ftype not in self._known:
                raise ProtocolError(f"unknown frame type {ftype}")
            frames.append(Frame(ftype, fid, decode_body(view, pos + 4, end, json_len)))
            pos = end
        if view is buf:
            del buf[:pos]
        elif pos < size:
            buf += memoryview(view)[pos:]
        return frames

    @property
    def buffered(self) -> int:
        """Bytes received but not yet part of a complete frame."""
        return len(self._buf)

    @property
    def missing(self) -> int:
        """Bytes still needed to complete the partial frame held, or 0 if unknown.

        Lets a reader size one ``recv`` for a large frame instead of many small ones.
        """
        buf = self._buf
        if len(buf) < 4:
            return 0
        return max(0, 4 + _U32.unpack_from(buf, 0)[0] - len(buf))


async def read_frame(reader: Any, max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES) -> Frame:
    """Reads one frame from an ``asyncio.StreamReader`` (tests, tools).

    Raises:
        asyncio.IncompleteReadError: the stream ended.
        ProtocolError: the frame is malformed.
    """
    head = await reader.readexactly(4)
    (length,) = _U32.unpack(head)
    if length < MIN_FRAME:
        raise ProtocolError(f"frame length {length} is below the minimum of {MIN_FRAME}")
    if length > max_frame_bytes:
        raise ProtocolError(f"frame of {length} bytes exceeds max-frame-bytes {max_frame_bytes}")
    rest = await reader.readexactly(length)
    ftype = rest[0]
    if ftype not in FRAME_NAMES:
        raise ProtocolError(f"unknown frame type {ftype}")
    fid, json_len = struct.unpack_from(">II", rest, 1)
    return Frame(ftype, fid, decode_body(rest, 0, length, json_len))
