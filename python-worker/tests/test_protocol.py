"""Frame codec: round trips, attachments, limits and malformed input."""

from __future__ import annotations

import asyncio
import math
import struct

import pytest

from snakepit_worker import protocol as P


def decode_all(data: bytes, max_frame: int = P.DEFAULT_MAX_FRAME_BYTES):
    return P.FrameDecoder(max_frame).feed(data)


def raw_frame(ftype: int, fid: int, json_bytes: bytes, attachments=(), length=None,
              json_len=None) -> bytes:
    body = json_bytes + b"".join(struct.pack(">I", len(a)) + a for a in attachments)
    if length is None:
        length = 9 + len(body)
    if json_len is None:
        json_len = len(json_bytes)
    return struct.pack(">IBII", length, ftype, fid, json_len) + body


def test_layout_matches_the_spec():
    frame = P.encode_frame(P.RESULT, 7, {"result": 1})
    json_bytes = b'{"result":1}'
    assert frame == struct.pack(">IBII", 9 + len(json_bytes), 5, 7, len(json_bytes)) + json_bytes


def test_empty_body_has_zero_json_len():
    frame = P.encode_frame(P.END, 3)
    assert frame == struct.pack(">IBII", 9, P.END, 3, 0)
    assert decode_all(frame) == [P.Frame(P.END, 3, {})]


@pytest.mark.parametrize("body", [
    {"result": None},
    {"result": {"a": [1, 2.5, "x", True, None], "ü": "ünïcödé \u2603"}},
    {"item": list(range(100))},
    {"t": 2 ** 53},
])
def test_round_trip(body):
    frame = P.encode_frame(P.CHUNK, 2 ** 32 - 1, body)
    assert decode_all(frame) == [P.Frame(P.CHUNK, 2 ** 32 - 1, body)]


def test_binary_values_become_attachments_and_come_back_as_bytes():
    body = {"result": {"a": b"\x00\x01", "list": [bytearray(b"xyz"), memoryview(b"mv")],
                       "empty": b"", "n": 1}}
    frame = P.encode_frame(P.RESULT, 1, body)
    # The JSON part holds placeholders, not the bytes.
    (json_len,) = struct.unpack_from(">I", frame, 9)
    json_part = frame[13:13 + json_len]
    assert b'{"$att":0}' in json_part and b'{"$att":3}' in json_part
    assert b"xyz" not in json_part
    [decoded] = decode_all(frame)
    assert decoded.body == {"result": {"a": b"\x00\x01", "list": [b"xyz", b"mv"], "empty": b"",
                                       "n": 1}}
    assert all(type(v) is bytes for v in decoded.body["result"]["list"])


def test_top_level_bytes_result():
    data = bytes(range(256)) * 400
    [decoded] = decode_all(P.encode_frame(P.RESULT, 9, {"result": data}))
    assert decoded.body["result"] == data


def test_incoming_placeholders_resolve_only_with_attachments():
    # Without attachments a {"$att": 0} dict is left alone, as the node does.
    [f] = decode_all(raw_frame(P.REQUEST, 1, b'{"args":{"x":{"$att":0}}}'))
    assert f.body == {"args": {"x": {"$att": 0}}}
    [f] = decode_all(raw_frame(P.REQUEST, 1, b'{"args":{"x":{"$att":1},"y":{"$att":0}}}',
                               attachments=[b"zero", b"one"]))
    assert f.body == {"args": {"x": b"one", "y": b"zero"}}


def test_placeholder_out_of_range_is_a_protocol_error():
    with pytest.raises(P.ProtocolError, match="attachment 2 of 1"):
        decode_all(raw_frame(P.REQUEST, 1, b'{"x":{"$att":2}}', attachments=[b"a"]))


def test_user_dict_shaped_like_a_placeholder_is_refused_on_encode():
    with pytest.raises(ValueError, match=r"\$att"):
        P.encode_frame(P.RESULT, 1, {"result": {"$att": 0}})
    with pytest.raises(ValueError, match=r"\$att"):
        P.encode_frame(P.RESULT, 1, {"result": [b"x", {"$att": 5}]})
    # Harmless look-alikes still pass.
    for ok in ({"$att": "x"}, {"$att": 0, "other": 1}, ["$att"], {"k": "$att"}):
        [f] = decode_all(P.encode_frame(P.RESULT, 1, {"result": ok}))
        assert f.body["result"] == ok


def test_non_json_values_are_refused():
    with pytest.raises(TypeError, match="set"):
        P.encode_frame(P.RESULT, 1, {"result": {1, 2}})
    with pytest.raises(ValueError):
        P.encode_frame(P.RESULT, 1, {"result": math.nan})
    with pytest.raises(ValueError):
        P.encode_frame(P.RESULT, 1, {"result": [math.inf]})


def test_encode_respects_max_frame_bytes():
    P.encode_frame(P.RESULT, 1, {"result": "x" * 100}, max_frame_bytes=200)
    with pytest.raises(P.FrameTooLargeError, match="exceeds max_frame_bytes 100"):
        P.encode_frame(P.RESULT, 1, {"result": "x" * 100}, max_frame_bytes=100)


def test_decoder_handles_byte_by_byte_and_batched_input():
    frames = [P.encode_frame(P.PING, 0, {"t": i}) for i in range(5)]
    frames.append(P.encode_frame(P.REQUEST, 3, {"args": {"b": b"\x00" * 10}}))
    stream = b"".join(frames)
    dec = P.FrameDecoder()
    out = []
    for i in range(len(stream)):
        out.extend(dec.feed(stream[i:i + 1]))
    assert [f.body.get("t") for f in out[:5]] == list(range(5))
    assert out[5].body == {"args": {"b": b"\x00" * 10}}
    assert dec.buffered == 0
    # All at once, and split in the middle of a frame.
    assert len(P.FrameDecoder().feed(stream)) == 6
    dec = P.FrameDecoder()
    cut = len(frames[0]) + 5
    assert len(dec.feed(stream[:cut])) == 1
    assert len(dec.feed(stream[cut:])) == 5


def test_max_frame_size_is_enforced_on_read_before_buffering():
    big = P.encode_frame(P.RESULT, 1, {"result": "x" * 1000})
    assert len(decode_all(big, max_frame=len(big) - 4)) == 1
    with pytest.raises(P.ProtocolError, match="exceeds max-frame-bytes"):
        decode_all(big, max_frame=len(big) - 5)
    # Only the 4-byte length has arrived: refused at once, nothing buffered.
    with pytest.raises(P.ProtocolError, match="exceeds"):
        P.FrameDecoder(1024).feed(struct.pack(">I", 2 ** 31))


@pytest.mark.parametrize("data, message", [
    (struct.pack(">I", 8) + b"\x00" * 8, "below the minimum"),
    (raw_frame(P.PING, 0, b"{}", json_len=50), "json_len 50 runs past"),
    (raw_frame(P.PING, 0, b""), None),
    (raw_frame(99, 0, b"{}"), "unknown frame type 99"),
    (raw_frame(0, 0, b"{}"), "unknown frame type 0"),
    (raw_frame(P.PING, 0, b"{nope"), "not valid JSON"),
    (raw_frame(P.PING, 0, b"[1,2]"), "not an object"),
    (raw_frame(P.PING, 0, b'"s"'), "not an object"),
    (raw_frame(P.PING, 0, b"\xff\xfe{}"), "not valid JSON"),
    (raw_frame(P.PING, 0, b"{}"), None),
])
def test_malformed_frames(data, message):
    if message is None:  # well-formed controls
        assert len(decode_all(data)) == 1
        return
    with pytest.raises(P.ProtocolError, match=message):
        decode_all(data)


def test_truncated_and_overrunning_attachments():
    good = raw_frame(P.RESULT, 1, b'{"result":{"$att":0}}', attachments=[b"abc"])
    assert decode_all(good)[0].body == {"result": b"abc"}
    # 2 stray bytes after the JSON: too short for an attachment length.
    with pytest.raises(P.ProtocolError, match="truncated attachment length"):
        decode_all(struct.pack(">IBII", 9 + 2 + 2, P.RESULT, 1, 2) + b"{}" + b"\x00\x00")
    # Attachment claims 100 bytes, frame holds 3.
    bad = (struct.pack(">IBII", 9 + 2 + 4 + 3, P.RESULT, 1, 2) + b"{}"
           + struct.pack(">I", 100) + b"abc")
    with pytest.raises(P.ProtocolError, match="runs past the end"):
        decode_all(bad)


def test_known_types_restrict_what_a_receiver_accepts():
    dec = P.FrameDecoder(known_types=P.NODE_TO_WORKER)
    with pytest.raises(P.ProtocolError, match="unknown frame type 5"):
        dec.feed(P.encode_frame(P.RESULT, 1, {"result": 1}))


def test_read_frame_from_stream_reader():
    async def main():
        reader = asyncio.StreamReader()
        reader.feed_data(P.encode_frame(P.PING, 0, {"t": 1}))
        reader.feed_data(P.encode_frame(P.RESULT, 5, {"result": b"\x01"}))
        reader.feed_data(struct.pack(">I", 4))
        reader.feed_eof()
        f1 = await P.read_frame(reader)
        f2 = await P.read_frame(reader)
        assert f1 == P.Frame(P.PING, 0, {"t": 1}) and f1.name == "PING"
        assert f2 == P.Frame(P.RESULT, 5, {"result": b"\x01"})
        with pytest.raises(P.ProtocolError):
            await P.read_frame(reader)

    asyncio.run(main())


def test_frame_type_codes_match_the_spec():
    expected = ["HELLO", "WELCOME", "REJECT", "REQUEST", "RESULT", "ERROR", "CHUNK", "END",
                "CREDIT", "CANCEL", "PING", "PONG", "LOG", "CALL", "CALL_RESULT", "SHUTDOWN",
                "SESSION_CLOSED"]
    assert [P.FRAME_NAMES[i] for i in range(1, 18)] == expected
    assert P.NODE_TO_WORKER | P.WORKER_TO_NODE == frozenset(range(1, 18))
    assert not P.NODE_TO_WORKER & P.WORKER_TO_NODE
