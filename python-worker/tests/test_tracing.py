"""Span recording of traced requests: in-process, and end to end against a fake node."""

from __future__ import annotations

import time

import pytest

from fakenode import FakeNode, P
from snakepit_worker import Context, NodeCallError
from snakepit_worker.context import NodeLink
from snakepit_worker.tracing import (
    MAX_SPANS, RequestTrace, error_code_of, parse_traceparent, with_spans,
)
from test_worker import FUNCS, session_store

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE_ID}-{PARENT}-01"


class RecordingLink(NodeLink):
    def __init__(self, fail_with=None):
        self.sent = []
        self.fail_with = fail_with

    def call(self, op, args, ctx):
        self.sent.append((op, dict(args)))
        if self.fail_with is not None:
            raise self.fail_with
        return 7


def traced_ctx(link, session_id="s1"):
    return Context("tally", 1, session_id, "corr-1", "w-1", "n-1", link, None,
                   RequestTrace.from_traceparent(TRACEPARENT))


# -- traceparent ---------------------------------------------------------------------


def test_parse_traceparent_accepts_w3c_version_00():
    assert parse_traceparent(TRACEPARENT) == (TRACE_ID, PARENT, "01")


@pytest.mark.parametrize("value", [
    None, 42, "", "garbage",
    f"01-{TRACE_ID}-{PARENT}-01",              # unknown version
    f"00-{'0' * 32}-{PARENT}-01",              # invalid trace id
    f"00-{TRACE_ID}-{'0' * 16}-01",            # invalid span id
    f"00-{TRACE_ID.upper()}-{PARENT}-01",      # upper case is not W3C
    f"00-{TRACE_ID}-{PARENT}-1",               # short flags
])
def test_malformed_traceparent_means_untraced(value):
    assert parse_traceparent(value) is None
    assert RequestTrace.from_traceparent(value) is None


# -- recording -----------------------------------------------------------------------


def test_untraced_context_sends_no_traceparent_and_records_nothing():
    link = RecordingLink()
    ctx = Context("t", 1, "s1", "corr-1", "w-1", "n-1", link)
    assert ctx.session.incr("n") == 7
    assert link.sent == [("session.incr", {"session_id": "s1", "name": "n", "by": 1})]
    assert ctx._trace is None


def test_each_node_call_is_a_child_span_of_the_tool_span():
    link = RecordingLink()
    ctx = traced_ctx(link)
    before = time.time_ns()
    ctx.session.incr("n")
    ctx.call("custom.op", x=1)
    spans = ctx._trace.finish("tally", None)
    after = time.time_ns()

    tool, incr, custom = spans
    assert tool["name"] == "tool tally" and tool["parent_span_id"] == PARENT
    assert tool["attributes"] == {"snakepit.tool": "tally"} and "error_code" not in tool
    assert [incr["name"], custom["name"]] == ["session.incr", "custom.op"]
    assert incr["attributes"] == {"snakepit.op": "session.incr"}
    for span in (incr, custom):
        assert span["parent_span_id"] == tool["span_id"]
        assert tool["start_ns"] <= span["start_ns"] <= span["end_ns"] <= tool["end_ns"]
    assert before - 10**9 < tool["start_ns"] and tool["end_ns"] <= after
    assert len({s["span_id"] for s in spans}) == 3
    # The node is told which span each operation belongs to, so its own span is that one's child.
    assert [args["traceparent"] for _, args in link.sent] == [
        f"00-{TRACE_ID}-{incr['span_id']}-01", f"00-{TRACE_ID}-{custom['span_id']}-01"]


def test_a_failed_node_call_carries_its_error_code():
    ctx = traced_ctx(RecordingLink(fail_with=NodeCallError("session_not_found", "gone")))
    with pytest.raises(NodeCallError):
        ctx.session.set("k", 1)
    _, put = ctx._trace.finish("tally", "session_not_found")
    assert put["error_code"] == "session_not_found"


def test_spans_past_the_cap_are_counted_not_kept():
    ctx = traced_ctx(RecordingLink())
    for _ in range(MAX_SPANS + 5):
        ctx.call("noop")
    spans = ctx._trace.finish("tally", None)
    assert len(spans) == MAX_SPANS + 1
    assert spans[0]["attributes"]["snakepit.spans.dropped"] == 5


# -- frames ---------------------------------------------------------------------------


def decode(frame):
    [f] = P.FrameDecoder().feed(frame)
    return f


def test_with_spans_extends_the_body_and_keeps_attachments():
    frame = P.encode_frame(P.RESULT, 9, {"result": {"data": b"\x00\x01", "n": 1}})
    spans = [{"span_id": "a" * 16, "name": "tool t"}]
    f = decode(with_spans(frame, spans))
    assert f.type == P.RESULT and f.id == 9
    assert f.body == {"result": {"data": b"\x00\x01", "n": 1}, "spans": spans}
    end = decode(with_spans(P.encode_frame(P.END, 3), spans))
    assert end.type == P.END and end.body == {"spans": spans}


def test_error_code_of_reads_only_error_frames():
    error = P.encode_frame(P.ERROR, 1,
                           {"code": "tool_failed", "type": "ValueError", "message": "x"})
    assert error_code_of(error, P.ERROR) == "tool_failed"
    assert error_code_of(P.encode_frame(P.RESULT, 1, {"result": 1}), P.ERROR) is None


# -- end to end: a real worker process ------------------------------------------------------


def test_traced_request_answers_with_its_spans(harness):
    async def body(node: FakeNode):
        store, node.call_handler = session_store()
        await node.start()
        await node.handshake()
        r = await node.request(1, "incr", {"name": "hits"}, session_id="s1",
                               traceparent=TRACEPARENT)
        assert r.body["result"] == 1
        tool, get, put = r.body["spans"]
        assert tool["name"] == "tool incr" and tool["parent_span_id"] == PARENT
        assert [get["name"], put["name"]] == ["session.get_var", "session.put_var"]
        assert get["parent_span_id"] == put["parent_span_id"] == tool["span_id"]
        # Each CALL named its own span as the parent of the node's work for it.
        assert [c.body["traceparent"] for c in node.calls] == [
            f"00-{TRACE_ID}-{get['span_id']}-01", f"00-{TRACE_ID}-{put['span_id']}-01"]

        failed = await node.request(2, "fail", {"message": "nope"}, traceparent=TRACEPARENT)
        assert failed.type == P.ERROR
        [span] = failed.body["spans"]
        assert span["error_code"] == "tool_failed" and span["name"] == "tool fail"

        plain = await node.request(3, "incr", {"name": "hits"}, session_id="s1")
        assert plain.body == {"result": 2}  # no traceparent: no spans, nothing extra on the CALLs
        assert all("traceparent" not in c.body for c in node.calls[2:])

    harness.run(body)


def test_traced_async_stream_ends_with_its_spans(harness):
    async def body(node: FakeNode):
        store, node.call_handler = session_store()
        store[("s1", "k")] = "v"
        await node.start()
        await node.handshake()
        node.send(P.REQUEST, 1, {"tool": "async_session_gen", "args": {}, "session_id": "s1",
                                 "stream": True, "credit": 4, "traceparent": TRACEPARENT})
        chunk = await node.expect(fid=1, types=(P.CHUNK,))
        assert chunk.body == {"item": "v"}
        end = await node.expect(fid=1, types=(P.END, P.ERROR))
        assert end.type == P.END
        tool, aget = end.body["spans"]
        assert aget["name"] == "session.get_var" and aget["parent_span_id"] == tool["span_id"]

    harness.run(body, adapter=FUNCS)
