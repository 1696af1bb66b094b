"""End-to-end: a fake node (real Unix-socket server) and a REAL worker process."""

from __future__ import annotations

import asyncio
import os
import signal
import struct
import subprocess
import sys
import time

from fakenode import DEMO, TIMEOUT, WORKER_DIR, WORKER_PYTHON, FakeNode, P

FUNCS = "funcs_adapter"


def messages(node: FakeNode, **match):
    return [log["message"] for log in node.logs
            if all(log.get(k) == v for k, v in match.items())]


# -- handshake and startup -------------------------------------------------------------


def test_handshake(harness):
    async def body(node: FakeNode):
        await node.start()
        hello = await node.handshake()
        b = hello.body
        assert b["protocol"] == 1
        assert b["worker_id"] == "test-1.1"
        assert b["pid"] == node.proc.pid
        python = b["python"]
        assert python.count(".") == 2 and python.split(".")[0] == "3"
        assert b["adapter"] == DEMO
        tools = {t["name"]: t for t in b["tools"]}
        assert tools["count"]["kind"] == "stream" and tools["async_count"]["kind"] == "stream"
        assert tools["add"] == {"name": "add", "kind": "unary", "doc": "Returns a + b."}
        result = await node.request(1, "info")
        assert result.body["result"] == {"pid": node.proc.pid, "python": python,
                                         "worker_id": "test-1.1", "node_id": "node-test"}

    harness.run(body)


def test_bad_token_is_rejected_and_worker_exits_4(harness):
    async def body(node: FakeNode):
        await node.start()
        await node.accept()
        hello = await node.expect(types=(P.HELLO,))
        assert hello.body["token"] != "right-token"
        node.send(P.REJECT, 0, {"code": "bad_token", "message": "token mismatch: check the node"})
        assert await node.wait_exit() == 4
        assert "token mismatch: check the node" in node.stderr_text()
        assert "bad_token" in node.stderr_text()

    harness.run(body)


def test_adapter_import_failure_exits_3_with_traceback(harness):
    async def body(node: FakeNode):
        await node.start()
        assert await node.wait_exit() == 3
        err = node.stderr_text()
        assert "Traceback (most recent call last)" in err
        assert "broken_adapter cannot be imported (on purpose)" in err
        assert node._conns.empty()  # it never connected

    harness.run(body, adapter="broken_adapter")


def test_adapter_setup_failure_exits_3(harness):
    async def body(node: FakeNode):
        await node.start()
        assert await node.wait_exit() == 3
        assert "setup failed on purpose" in node.stderr_text()

    harness.run(body, adapter="setup_fails:SetupFails")


def test_missing_environment_exits_2(harness):
    async def body(node: FakeNode):
        await node.start()
        assert await node.wait_exit() == 2
        assert "SNAKEPIT_TOKEN is not set" in node.stderr_text()

    harness.run(body, env={"SNAKEPIT_TOKEN": ""})


def test_unreachable_node_exits_6(harness):
    async def body(node: FakeNode):
        node.spawn()  # no server listening
        assert await node.wait_exit() == 6
        assert "cannot connect" in node.stderr_text()

    harness.run(body)


def test_tcp_transport(harness):
    async def body(node: FakeNode):
        await node.start()
        assert node.endpoint.startswith("tcp:127.0.0.1:")
        await node.handshake()
        assert (await node.request(1, "add", {"a": 2, "b": 3})).body == {"result": 5}
        r = await node.request(2, "bytes_echo", {"size": 100_000})
        assert len(r.body["result"]) == 100_000

    harness.run(body, transport="tcp")


# -- unary, async and errors --------------------------------------------------------------


def test_unary_and_async_tools(harness):
    async def body(node: FakeNode):
        await node.start()
        await node.handshake()
        r = await node.request(1, "add", {"a": 2, "b": 40})
        assert r.type == P.RESULT and r.id == 1 and r.body == {"result": 42}
        args = {"s": "ünï", "n": [1, {"x": None}], "f": 1.5}
        assert (await node.request(2, "echo", args)).body == {"result": args}
        assert (await node.request(3, "async_echo", args)).body == {"result": args}
        assert (await node.request(4, "noop")).body == {"result": None}
        # Several at once, answered by id.
        for i in range(10, 20):
            node.send(P.REQUEST, i, {"tool": "add", "args": {"a": i, "b": 1}, "stream": False})
        for i in range(10, 20):
            assert (await node.expect(fid=i)).body == {"result": i + 1}

    harness.run(body)


def test_unknown_tool_lists_tools(harness):
    async def body(node: FakeNode):
        await node.start()
        await node.handshake()
        r = await node.request(1, "nope")
        assert r.type == P.ERROR and r.body["code"] == "unknown_tool"
        assert "add" in r.body["tools"] and "count" in r.body["tools"]
        assert "'nope'" in r.body["message"]

    harness.run(body)


def test_bad_requests(harness):
    async def body(node: FakeNode):
        await node.start()
        await node.handshake()
        r = await node.request(1, "add", {"a": 1})
        assert r.body["code"] == "bad_request" and r.body["type"] == "TypeError"
        assert "'b'" in r.body["message"]
        r = await node.request(2, "add", {"a": 1, "b": 2, "c": 3})
        assert r.body["code"] == "bad_request" and "'c'" in r.body["message"]
        r = await node.request(3, "add", {"a": 1, "b": 2}, stream=True, credit=1)
        assert r.body["code"] == "bad_request" and "not a streaming tool" in r.body["message"]
        r = await node.request(4, "count", {"n": 1}, stream=False)
        assert r.body["code"] == "bad_request" and "streaming tool" in r.body["message"]
        node.send(P.REQUEST, 5, {"tool": "add", "args": [1, 2], "stream": False})
        r = await node.expect(fid=5)
        assert r.body["code"] == "bad_request" and "must be an object" in r.body["message"]
        r = await node.request(6, "sleep", {"ms": 1, "ctx": 1})
        assert r.body["code"] == "bad_request" and "reserved" in r.body["message"]
        # The worker is still fine.
        assert (await node.request(7, "add", {"a": 1, "b": 2})).body == {"result": 3}

    harness.run(body)


def test_tool_failures(harness):
    async def body(node: FakeNode):
        await node.start()
        await node.handshake()
        r = await node.request(1, "fail", {"message": "kaput"})
        assert r.type == P.ERROR
        assert r.body["code"] == "tool_failed" and r.body["type"] == "RuntimeError"
        assert r.body["message"] == "kaput"
        tb = r.body["traceback"]
        assert tb.startswith("Traceback") and "raise RuntimeError(message)" in tb
        # The runtime's own frames are cut, whichever of its modules they are in.
        for module in ("runtime.py", "execution.py", "transport.py", "requests.py"):
            assert module not in tb

    harness.run(body)


def test_tool_failures_types_and_unsendable_results(harness):
    async def body(node: FakeNode):
        await node.start()
        await node.handshake()
        # A TypeError raised inside the tool is a tool failure, not a bad request.
        r = await node.request(2, "type_error_inside", {"x": 1})
        assert r.body["code"] == "tool_failed" and r.body["type"] == "TypeError"
        # Results that cannot travel.
        r = await node.request(3, "not_serialisable")
        assert r.body["code"] == "tool_failed" and r.body["type"] == "TypeError"
        assert "not_serialisable" in r.body["message"] and "set" in r.body["message"]
        r = await node.request(4, "nan")
        assert r.body["code"] == "tool_failed" and r.body["type"] == "ValueError"
        # Qualified names for non-builtin exceptions.
        r = await node.request(5, "session_tool")
        assert r.body["type"] == "snakepit_worker.errors.SessionUnavailableError"

    harness.run(body, adapter=FUNCS)


def test_result_larger_than_node_limit_is_a_tool_failure(harness):
    async def body(node: FakeNode):
        await node.start()
        await node.handshake(welcome={"max_frame_bytes": 4096})
        r = await node.request(1, "big_result", {"size": 10_000})
        assert r.body["code"] == "tool_failed" and "too large" in r.body["message"]
        assert (await node.request(2, "big_result", {"size": 100})).body == {"result": "x" * 100}
        # Errors and log records are cut to fit the node's limit instead of
        # breaking the protocol (the fake node's reader enforces nothing, so
        # check the sizes here).
        r = await node.request(3, "deep_failure", {"depth": 50})
        assert r.body["code"] == "tool_failed" and r.body["type"] == "ValueError"
        assert len(r.body["traceback"]) + len(r.body["message"]) < 4096
        assert (await node.request(4, "log_big", {"size": 20_000})).body == {"result": True}
        await node.wait_for(lambda: any(m.startswith("LLL") for m in messages(node)),
                            what="big log record")
        [big] = [m for m in messages(node) if m.startswith("LLL")]
        assert big.endswith("[cut]") and len(big) < 4096

    harness.run(body, adapter=FUNCS)


def test_bytes_attachments_both_ways(harness):
    async def body(node: FakeNode):
        await node.start()
        await node.handshake()
        r = await node.request(1, "bytes_echo", {"size": 300_000})
        assert r.body["result"] == (bytes(range(256)) * 1200)[:300_000]
        blob = os.urandom(70_000)
        r = await node.request(2, "bytes_echo", {"data": blob})
        assert r.body["result"] == blob
        nested = {"a": [b"\x00", {"b": b"\xff" * 3}], "c": "text"}
        r = await node.request(3, "echo", nested)
        assert r.body["result"] == nested

    harness.run(body)


# -- streams and flow control ----------------------------------------------------------------


async def collect_stream(node: FakeNode, fid: int):
    items = []
    while True:
        f = await node.expect(fid=fid)
        if f.type == P.CHUNK:
            items.append(f.body["item"])
        else:
            return items, f


def test_streams_sync_and_async(harness):
    async def body(node: FakeNode):
        await node.start()
        await node.handshake()
        for fid, name in ((1, "count"), (2, "async_count")):
            node.send(P.REQUEST, fid, {"tool": name, "args": {"n": 5}, "stream": True,
                                       "credit": 100, "correlation_id": "c"})
            items, last = await collect_stream(node, fid)
            assert items == [{"i": i} for i in range(5)]
            assert last.type == P.END and last.body == {}
        node.send(P.REQUEST, 3, {"tool": "count", "args": {"n": 0}, "stream": True, "credit": 1})
        items, last = await collect_stream(node, 3)
        assert items == [] and last.type == P.END

    harness.run(body)


def run_credit_check(tool_name: str):
    async def body(node: FakeNode):
        await node.start()
        await node.handshake()
        node.send(P.REQUEST, 1, {"tool": tool_name, "args": {"n": 6}, "stream": True, "credit": 2})
        first = [await node.expect(fid=1, types=(P.CHUNK,)) for _ in range(2)]
        assert [f.body["item"] for f in first] == [{"i": 0}, {"i": 1}]
        # Out of credit: the generator is not even advanced, as the worker itself says. A
        # chunk is sent only after its item is counted, so none can be on its way either.
        assert (await node.request(2, "produced", {"name": tool_name})).body == {"result": 2}
        assert node.pending(1) == []
        assert len([m for m in messages(node) if "producing" in m]) == 2
        node.send(P.CREDIT, 1, {"n": 1})
        f = await node.expect(fid=1, types=(P.CHUNK,))
        assert f.body["item"] == {"i": 2}
        assert (await node.request(3, "produced", {"name": tool_name})).body == {"result": 3}
        assert node.pending(1) == []
        node.send(P.CREDIT, 1, {"n": 10})
        items, last = await collect_stream(node, 1)
        assert items == [{"i": 3}, {"i": 4}, {"i": 5}] and last.type == P.END

    return body


def test_credit_flow_control_sync_generator(harness):
    harness.run(run_credit_check("gen_logged"), adapter=FUNCS)


def test_credit_flow_control_async_generator(harness):
    harness.run(run_credit_check("async_gen_logged"), adapter=FUNCS)


# -- cancellation ------------------------------------------------------------------------------


def test_cancel_sync_async_and_stream(harness):
    async def body(node: FakeNode):
        await node.start()
        await node.handshake()
        node.send(P.REQUEST, 1, {"tool": "sleep", "args": {"ms": 60_000}, "stream": False})
        node.send(P.REQUEST, 2, {"tool": "async_sleep", "args": {"ms": 60_000}, "stream": False})
        node.send(P.REQUEST, 3, {"tool": "gen_cleanup", "args": {"n": 5}, "stream": True,
                                 "credit": 1})
        assert (await node.expect(fid=3, types=(P.CHUNK,))).body == {"item": 0}
        # Cancelling works whether or not the tools have started yet.
        assert (await node.request(4, "multiply", {"a": 1, "b": 1})).type == P.RESULT
        for fid in (1, 2, 3):
            node.send(P.CANCEL, fid, {})
        for fid in (1, 2, 3):
            r = await node.expect(fid=fid, types=(P.ERROR, P.RESULT, P.END))
            assert r.type == P.ERROR and r.body["code"] == "cancelled", r
        await node.wait_for(lambda: "generator closed" in messages(node), what="generator close")
        # CANCEL for something already finished is ignored.
        node.send(P.CANCEL, 4, {})
        assert (await node.request(5, "multiply", {"a": 2, "b": 2})).body == {"result": 4}

    harness.run(body, adapter=FUNCS, concurrency=4)


def test_cancel_demo_sleep(harness):
    async def body(node: FakeNode):
        await node.start()
        await node.handshake()
        node.send(P.REQUEST, 1, {"tool": "sleep", "args": {"ms": 60_000}, "stream": False})
        node.send(P.PING, 0, {"t": 1})
        await node.expect(types=(P.PONG,))
        started = time.monotonic()
        node.send(P.CANCEL, 1, {})
        r = await node.expect(fid=1)
        assert r.body["code"] == "cancelled"
        assert time.monotonic() - started < TIMEOUT

    harness.run(body)


# -- stdout / stderr / logging ----------------------------------------------------------------


def test_print_noise_is_forwarded_and_never_corrupts_frames(harness):
    async def body(node: FakeNode):
        await node.start()
        await node.handshake()
        r = await node.request(1, "print_noise", {"lines": 200})
        assert r.body == {"result": "ok"}
        assert (await node.request(2, "add", {"a": 1, "b": 1})).body == {"result": 2}
        await node.wait_for(
            lambda: "partial line without newline" in messages(node, stream="stdout")
            and any(m.startswith("raw fd2") for m in messages(node, stream="stderr")),
            what="noise LOG frames")
        out = messages(node, stream="stdout")
        err = messages(node, stream="stderr")
        assert [m for m in out if m.startswith("noise stdout")] == [
            f'noise stdout {i} \x00\x05 {{"result": {i}}}' for i in range(200)]
        assert len([m for m in err if m.startswith("noise stderr")]) == 200
        assert any(m.startswith("raw fd1 \x00\x00\x00\x15\x05") for m in out)
        for log in node.logs:
            if log.get("stream") == "stdout":
                assert log["level"] == "INFO" and log["logger"] == "stdout"
            elif log.get("stream") == "stderr":
                assert log["level"] == "WARNING" and log["logger"] == "stderr"
        assert node.read_error is None

    harness.run(body)


def test_long_lines_are_split(harness):
    async def body(node: FakeNode):
        await node.start()
        await node.handshake()
        r = await node.request(1, "echo_print", {"text": "y" * 20_000})
        assert r.type == P.RESULT
        await node.wait_for(lambda: sum(len(m) for m in messages(node, stream="stdout")) >= 20_000,
                            what="long line")
        parts = messages(node, stream="stdout")
        assert "".join(parts) == "y" * 20_000 and max(len(p) for p in parts) <= 8192

    harness.run(body, adapter="print_adapter")


def test_logger_records_carry_correlation_and_session(harness):
    async def body(node: FakeNode):
        await node.start()
        await node.handshake()
        r = await node.request(7, "log", {"message": "hello from ctx.logger"}, session_id="s-42")
        assert r.body == {"result": True}
        await node.wait_for(lambda: "hello from ctx.logger" in messages(node), what="log record")
        [frame] = [f for f in node.log_frames if f.body["message"] == "hello from ctx.logger"]
        assert frame.id == 7
        assert frame.body["level"] == "INFO"
        assert frame.body["logger"] == "snakepit.tools.log"
        assert frame.body["correlation_id"] == "corr-7"
        assert frame.body["session_id"] == "s-42"
        assert "stream" not in frame.body

    harness.run(body)


def test_forked_child_never_writes_frames(harness):
    async def body(node: FakeNode):
        await node.start()
        await node.handshake()
        assert (await node.request(1, "fork_and_log")).body == {"result": 0}
        await node.wait_for(
            lambda: any("record from forked child" in m for m in messages(node, stream="stderr"))
            and "print from forked child" in messages(node, stream="stdout")
            and "record from parent after fork" in messages(node),
            what="child output")
        # The child's record came as a stderr line, never as a LOG frame of its own.
        assert "record from forked child" not in messages(node, logger="funcs_adapter")
        assert (await node.request(2, "multiply", {"a": 3, "b": 3})).body == {"result": 9}
        # A child that returns from the tool is ended, never answers, never lingers.
        r = await node.request(3, "fork_and_return")
        assert r.body == {"result": "parent, child status 0"}
        assert "returned into the worker runtime" in node.stderr_text()
        assert node.read_error is None

    harness.run(body, adapter=FUNCS)


def test_plain_logger_in_tool_thread_gets_request_ids_via_contextvars(harness):
    async def body(node: FakeNode):
        await node.start()
        await node.handshake()
        await node.request(3, "log_from_thread")
        await node.wait_for(lambda: "plain logger record" in messages(node), what="record")
        [log] = [x for x in node.logs if x["message"] == "plain logger record"]
        assert log["correlation_id"] == "corr-3" and log["logger"] == "funcs_adapter"
        assert log["level"] == "WARNING"

    harness.run(body, adapter=FUNCS)


# -- calls to the node and sessions ------------------------------------------------------------


def session_store():
    store = {}

    def handler(op, body):
        sid = body.get("session_id")
        if op == "session.get_var":
            return {"result": store.get((sid, body["name"]))}
        if op == "session.put_var":
            store[(sid, body["name"])] = body["value"]
            return {"result": None}
        if op == "session.vars":
            return {"result": {k[1]: v for k, v in store.items() if k[0] == sid}}
        return {"error": {"code": "unknown_op", "message": f"no op {op}"}}

    return store, handler


def test_ctx_session_over_call_and_call_result(harness):
    async def body(node: FakeNode):
        store, node.call_handler = session_store()
        await node.start()
        await node.handshake()
        for expected in (1, 2, 3):
            r = await node.request(expected, "incr", {"name": "hits"}, session_id="s1")
            assert r.body == {"result": expected}
        assert store[("s1", "hits")] == 3
        ops = [c.body["op"] for c in node.calls]
        assert ops == ["session.get_var", "session.put_var"] * 3
        assert all(c.id & 0x80000000 for c in node.calls)
        assert len({c.id for c in node.calls}) == len(node.calls)
        assert node.calls[0].body == {"op": "session.get_var", "session_id": "s1", "name": "hits"}

    harness.run(body)


def test_async_session_and_node_call_errors(harness):
    async def body(node: FakeNode):
        store, node.call_handler = session_store()
        await node.start()
        await node.handshake()
        r = await node.request(1, "async_session", session_id="s2")
        assert r.body == {"result": [1, 2]}
        assert store[("s2", "k")] == [1, 2]
        r = await node.request(2, "call_op", {"op": "nope.op", "x": 1})
        assert r.body["code"] == "tool_failed"
        assert r.body["type"] == "snakepit_worker.errors.NodeCallError"
        assert "unknown_op" in r.body["message"]

    harness.run(body, adapter=FUNCS)


def test_blocking_session_api_in_async_tool_is_explained(harness):
    async def body(node: FakeNode):
        await node.start()
        await node.handshake()
        r = await node.request(1, "wrong_sync_call", session_id="s1")
        assert r.body["code"] == "tool_failed" and r.body["type"] == "RuntimeError"
        assert "await ctx.acall" in r.body["message"]

    harness.run(body, adapter=FUNCS)


def test_more_requests_than_concurrency_all_complete(harness):
    async def body(node: FakeNode):
        await node.start()
        await node.handshake()
        for fid in range(1, 6):
            node.send(P.REQUEST, fid, {"tool": "sleep", "args": {"ms": 20}, "stream": False})
        node.send(P.REQUEST, 6, {"tool": "async_echo", "args": {"k": 1}, "stream": False})
        for fid in range(1, 6):
            assert (await node.expect(fid=fid)).body == {"result": {"slept_ms": 20}}
        assert (await node.expect(fid=6)).body == {"result": {"k": 1}}

    harness.run(body, concurrency=1)


def test_session_unavailable_without_session(harness):
    async def body(node: FakeNode):
        await node.start()
        await node.handshake()
        r = await node.request(1, "incr", {"name": "x"})
        assert r.body["code"] == "session_required"
        assert r.body["type"] == "snakepit_worker.errors.SessionUnavailableError"
        assert "without a session" in r.body["message"]
        assert "POST /v1/sessions/{id}/execute" in r.body["message"]

    harness.run(body)


SESSION_TOOLS = (("session_tool", False), ("async_session", False),
                 ("session_gen", True), ("async_session_gen", True))


async def session_tool_errors(node: FakeNode, **extra) -> dict:
    """Calls each session-using tool (unary and stream, sync and async); returns its ERROR."""
    errors = {}
    for fid, (name, stream) in enumerate(SESSION_TOOLS, 1):
        node.send(P.REQUEST, fid, dict({"tool": name, "args": {}, "stream": stream,
                                        "credit": 10, "correlation_id": f"c-{fid}"}, **extra))
        frame = await node.expect(fid=fid, types=(P.RESULT, P.CHUNK, P.END, P.ERROR))
        assert frame.type == P.ERROR, (name, frame)
        errors[name] = frame.body
    return errors


def test_session_use_without_a_session_is_session_required(harness):
    async def body(node: FakeNode):
        await node.start()
        await node.handshake()
        for name, err in (await session_tool_errors(node)).items():
            assert err["code"] == "session_required", name
            assert err["type"] == "snakepit_worker.errors.SessionUnavailableError", name
            assert "without a session" in err["message"], name
            assert err["traceback"].startswith("Traceback") and "ctx.session" in err["traceback"]

    harness.run(body, adapter=FUNCS)


def test_session_deleted_during_the_call_is_session_not_found(harness):
    async def body(node: FakeNode):
        node.call_handler = lambda op, b: {"error": {"code": "session_not_found",
                                                     "message": f"no session {b['session_id']}"}}
        await node.start()
        await node.handshake()
        errors = await session_tool_errors(node, session_id="gone-1")
        assert {c.body["op"] for c in node.calls} <= {"session.get_var", "session.put_var",
                                                      "session.vars"}
        assert len(node.calls) == len(SESSION_TOOLS)
        for name, err in errors.items():
            assert err["code"] == "session_not_found", name
            assert err["type"] == "snakepit_worker.errors.NodeCallError", name
            assert err["message"] == "session_not_found: no session gone-1", name
            assert "traceback" in err

    harness.run(body, adapter=FUNCS)


def test_store_refusals_met_in_a_tool_keep_their_code(harness):
    for code in ("minority_partition", "not_owner", "store_unavailable", "node_lost", "integrity_failed"):
        async def body(node: FakeNode, code: str = code):
            node.call_handler = lambda op, b: {"error": {"code": code, "message": "refused"}}
            await node.start()
            await node.handshake()
            errors = await session_tool_errors(node, session_id="s-1")
            for name, err in errors.items():
                assert err["code"] == code, (name, err)
                assert err["type"] == "snakepit_worker.errors.NodeCallError", name
                assert err["message"] == f"{code}: refused", name

        harness.run(body, adapter=FUNCS)


def test_other_error_codes_cannot_leave_a_tool(harness):
    async def body(node: FakeNode):
        node.call_handler = lambda op, b: {"error": {"code": "worker_crashed", "message": "x"}}
        await node.start()
        await node.handshake()
        cases = [
            ({"kind": "node_call", "code": "worker_crashed"}, "NodeCallError"),
            ({"kind": "node_call", "code": "internal"}, "NodeCallError"),
            ({"kind": "subclass"}, "funcs_adapter.ForgedError"),
            ({"kind": "user", "code": "session_required"}, "funcs_adapter.CodedError"),
        ]
        for fid, (args, type_name) in enumerate(cases, 1):
            r = await node.request(fid, "raise_coded", args)
            assert r.body["code"] == "tool_failed", (args, r.body)
            assert r.body["type"].endswith(type_name)
        # A node answer with such a code stays a tool failure too.
        r = await node.request(10, "call_op", {"op": "session.vars", "session_id": "s"})
        assert r.body["code"] == "tool_failed"
        assert r.body["message"] == "worker_crashed: x"
        # The tool may re-raise a session code it got (or make one): it passes.
        r = await node.request(11, "raise_coded", {"kind": "node_call", "code": "session_not_found"})
        assert r.body["code"] == "session_not_found"

    harness.run(body, adapter=FUNCS)


def test_process_memory_and_session_closed(harness):
    async def body(node: FakeNode):
        await node.start()
        await node.handshake()
        r = await node.request(1, "remember", {"value": {"v": 1}}, session_id="sa")
        assert r.body == {"result": {"worker_id": "test-1.1"}}
        r = await node.request(2, "recall", session_id="sa")
        assert r.body == {"result": {"value": {"v": 1}, "worker_id": "test-1.1"}}
        assert (await node.request(3, "recall", session_id="sb")).body["result"]["value"] is None
        node.send(P.SESSION_CLOSED, 0, {"session_id": "sa"})

        async def recalled():
            return (await node.request(next(ids), "recall", session_id="sa")).body["result"]

        ids = iter(range(10, 10_000))
        deadline = time.monotonic() + TIMEOUT
        while (await recalled())["value"] is not None:
            assert time.monotonic() < deadline, "on_session_closed was not called"

    harness.run(body)


def test_module_adapter_hooks_and_ctx_by_annotation(harness):
    async def body(node: FakeNode):
        await node.start()
        hello = await node.handshake()
        tools = {t["name"]: t for t in hello.body["tools"]}
        assert tools["multiply"]["doc"] == "Multiplies two numbers."
        assert tools["state"]["doc"] == "Shows the module's state."
        assert tools["gen_logged"]["kind"] == "stream"
        assert (await node.request(1, "multiply", {"a": 6, "b": 7})).body == {"result": 42}
        r = await node.request(2, "whoami")
        assert r.body == {"result": {"tool": "whoami", "correlation_id": "corr-2"}}
        assert (await node.request(3, "state")).body["result"]["setup_calls"] == 1
        node.send(P.SESSION_CLOSED, 0, {"session_id": "gone-1"})
        await node.wait_for(lambda: "session closed: gone-1" in messages(node), what="hook")

    harness.run(body, adapter=FUNCS)


# -- heartbeats and lifecycle ------------------------------------------------------------------


def test_ping_pong_with_rss(harness):
    async def body(node: FakeNode):
        await node.start()
        await node.handshake()
        # The tool blocks its thread far longer than any PONG may take.
        node.send(P.REQUEST, 1, {"tool": "hang", "args": {"ms": 60_000}, "stream": False})
        node.send(P.PING, 0, {"t": 123456789})
        pong = await node.expect(types=(P.PONG,))
        assert pong.id == 0 and pong.body["t"] == 123456789
        assert isinstance(pong.body["rss"], int) and pong.body["rss"] > 1_000_000
        # PONG came from the reading I/O thread while the tool was still busy.
        assert node.pending(1) == []

    harness.run(body)


def test_shutdown_finishes_running_work_then_exits_0(harness):
    async def body(node: FakeNode):
        await node.start()
        await node.handshake()
        # Long enough to still run when SHUTDOWN (sent right after) arrives.
        node.send(P.REQUEST, 1, {"tool": "sleep", "args": {"ms": 1000}, "stream": False})
        node.send(P.SHUTDOWN, 0, {"deadline_ms": 20_000})
        node.send(P.REQUEST, 2, {"tool": "add", "args": {"a": 1, "b": 1}, "stream": False})
        r2 = await node.expect(fid=2)
        assert r2.body["code"] == "cancelled" and "shutting down" in r2.body["message"]
        r1 = await node.expect(fid=1)
        assert r1.body == {"result": {"slept_ms": 1000}}
        assert await node.wait_exit() == 0

    harness.run(body)


def test_shutdown_deadline_cancels_stuck_work(harness):
    async def body(node: FakeNode):
        await node.start()
        await node.handshake()
        node.send(P.REQUEST, 1, {"tool": "hang", "args": {"ms": 60_000}, "stream": False})
        await node.request(2, "add", {"a": 1, "b": 1})
        node.send(P.SHUTDOWN, 0, {"deadline_ms": 200})
        r = await node.expect(fid=1)
        assert r.body["code"] == "cancelled"
        assert await node.wait_exit() == 0

    harness.run(body)


def test_idle_shutdown_exits_0(harness):
    async def body(node: FakeNode):
        await node.start()
        await node.handshake()
        node.send(P.SHUTDOWN, 0, {"deadline_ms": 5000})
        assert await node.wait_exit() == 0

    harness.run(body)


def test_closing_the_connection_ends_the_worker(harness):
    async def body(node: FakeNode):
        await node.start()
        await node.handshake()
        node.send(P.REQUEST, 1, {"tool": "hang", "args": {"ms": 60_000}, "stream": False})
        await node.request(2, "add", {"a": 1, "b": 1})
        node.writer.close()
        assert await node.wait_exit() == 0

    harness.run(body)


def test_closing_stdin_ends_the_worker(harness):
    async def body(node: FakeNode):
        await node.start()
        await node.handshake()
        node.send(P.REQUEST, 1, {"tool": "hang", "args": {"ms": 60_000}, "stream": False})
        await node.request(2, "add", {"a": 1, "b": 1})
        node.proc.stdin.close()
        assert await node.wait_exit() == 0
        await node.wait_for(lambda: node.closed, what="connection close")

    harness.run(body)


MIDDLE = r"""
import os, subprocess, sys
env = dict(os.environ, SNAKEPIT_PARENT_PID=str(os.getpid()))
p = subprocess.Popen([sys.argv[1], "-m", "snakepit_worker"], env=env,
                     stdin=subprocess.DEVNULL, stdout=sys.stderr, stderr=sys.stderr)
print(p.pid, flush=True)
p.wait()
"""


def pid_running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def test_parent_death_detected_by_ppid_without_stdin_pipe(harness):
    """The worker's parent is SIGKILLed; stdin is /dev/null, so only the ppid check can notice."""

    async def body(node: FakeNode):
        await node.start(spawn=False)
        with open(node.stderr_path, "wb") as err:
            middle = subprocess.Popen([sys.executable, "-c", MIDDLE, WORKER_PYTHON],
                                      env=node.env(), cwd=WORKER_DIR,
                                      stdout=subprocess.PIPE, stderr=err)
        worker_pid = None
        try:
            worker_pid = int(middle.stdout.readline())
            await node.handshake()
            assert (await node.request(1, "add", {"a": 1, "b": 1})).body == {"result": 2}
            middle.kill()
            middle.wait(TIMEOUT)
            await node.wait_for(lambda: node.closed, what="worker exit after parent death")
            deadline = time.monotonic() + TIMEOUT
            while pid_running(worker_pid):
                assert time.monotonic() < deadline, "worker outlived its parent"
                await asyncio.sleep(0.02)
        finally:
            middle.kill()
            middle.wait(TIMEOUT)
            middle.stdout.close()
            if worker_pid is not None and pid_running(worker_pid):
                os.kill(worker_pid, signal.SIGKILL)

    harness.run(body)


def test_parent_pid_mismatch_at_start_exits_2(harness):
    async def body(node: FakeNode):
        await node.start()
        assert await node.wait_exit() == 2
        assert "SNAKEPIT_PARENT_PID" in node.stderr_text()

    harness.run(body, env={"SNAKEPIT_PARENT_PID": "1"})


def test_crash_tool_kills_the_process(harness):
    async def body(node: FakeNode):
        await node.start()
        await node.handshake()
        node.send(P.REQUEST, 1, {"tool": "crash", "args": {}, "stream": False})
        assert await node.wait_exit() == -signal.SIGKILL
        await node.wait_for(lambda: node.closed, what="connection close")

    harness.run(body)


# -- protocol errors -----------------------------------------------------------------------


def test_malformed_frame_exits_5(harness):
    async def body(node: FakeNode):
        await node.start()
        await node.handshake()
        node.send_raw(struct.pack(">IBII", 5, P.PING, 0, 0))  # length below 9
        assert await node.wait_exit() == 5
        assert "protocol error" in node.stderr_text()

    harness.run(body)


def test_unknown_frame_type_exits_5(harness):
    async def body(node: FakeNode):
        await node.start()
        await node.handshake()
        node.send_raw(struct.pack(">IBII", 9, 42, 0, 0))
        assert await node.wait_exit() == 5
        assert "unknown frame type 42" in node.stderr_text()

    harness.run(body)


def test_worker_to_node_frame_type_from_node_exits_5(harness):
    async def body(node: FakeNode):
        await node.start()
        await node.handshake()
        node.send(P.RESULT, 1, {"result": 1})
        assert await node.wait_exit() == 5
        assert "unexpected RESULT" in node.stderr_text()

    harness.run(body)


def test_oversized_frame_exits_5(harness):
    async def body(node: FakeNode):
        await node.start()
        await node.handshake()
        node.send(P.REQUEST, 1, {"tool": "echo", "args": {"x": "z" * 2000}, "stream": False})
        assert await node.wait_exit() == 5
        assert "exceeds max-frame-bytes 1024" in node.stderr_text()

    harness.run(body, env={"SNAKEPIT_MAX_FRAME_BYTES": "1024"})


def test_busy_polling_reader_serves_calls_and_heartbeats(harness):
    """With SNAKEPIT_BUSY_POLL_US the reader polls before it sleeps; calls, a slow tool's
    heartbeat and a large frame read over several polls must behave as without it."""
    async def body(node: FakeNode):
        await node.start()
        await node.handshake()
        for i in range(1, 51):
            assert (await node.request(i, "add", {"a": i, "b": 1})).body == {"result": i + 1}
        r = await node.request(60, "bytes_echo", {"size": 300_000})
        assert r.type == P.RESULT
        node.send(P.REQUEST, 61, {"tool": "sleep", "args": {"ms": 300}, "stream": False})
        node.send(P.PING, 0, {})
        pong = await node.expect(types=(P.PONG,))
        assert pong.type == P.PONG
        assert (await node.expect(types=(P.RESULT,))).id == 61

    harness.run(body, env={"SNAKEPIT_BUSY_POLL_US": "500"})


def test_request_before_welcome_exits_5(harness):
    async def body(node: FakeNode):
        await node.start()
        await node.accept()
        await node.expect(types=(P.HELLO,))
        node.send(P.REQUEST, 1, {"tool": "noop", "args": {}, "stream": False})
        assert await node.wait_exit() == 5
        assert "before WELCOME" in node.stderr_text()

    harness.run(body)


def test_welcome_and_request_in_one_write(harness):
    async def body(node: FakeNode):
        await node.start()
        await node.accept()
        await node.expect(types=(P.HELLO,))
        node.send_raw(P.encode_frame(P.WELCOME, 0, {"protocol": 1, "max_frame_bytes": 1 << 24})
                      + P.encode_frame(P.REQUEST, 1, {"tool": "add", "args": {"a": 1, "b": 2},
                                                      "stream": False}))
        assert (await node.expect(fid=1)).body == {"result": 3}

    harness.run(body)


# -- reading modes -----------------------------------------------------------------------
# An adapter with plain functions is read by I/O threads that run a plain function
# inline; an all-async adapter is read on the event loop. Both must keep every feature.


def test_all_async_adapter_is_served_from_the_event_loop(harness):
    async def body(node: FakeNode):
        await node.start()
        await node.handshake()
        assert (await node.request(1, "aecho", {"x": [1, 2]})).body == {"result": {"x": [1, 2]}}
        if os.path.isdir(f"/proc/{node.proc.pid}/task"):
            # Loop mode: no I/O threads, and no pool thread was ever needed.
            assert len(os.listdir(f"/proc/{node.proc.pid}/task")) == 1
        node.send(P.REQUEST, 2, {"tool": "acount", "args": {"n": 4}, "stream": True,
                                 "credit": 2})
        first = [await node.expect(fid=2, types=(P.CHUNK,)) for _ in range(2)]
        assert [f.body["item"] for f in first] == [{"i": 0}, {"i": 1}]
        # Out of credit: the generator stopped at two items, so no third chunk exists.
        assert (await node.request(9, "aproduced")).body == {"result": 2}
        assert node.pending(2) == []
        node.send(P.CREDIT, 2, {"n": 10})
        items, last = await collect_stream(node, 2)
        assert items == [{"i": 2}, {"i": 3}] and last.type == P.END
        node.send(P.REQUEST, 3, {"tool": "asleep", "args": {"ms": 60_000}, "stream": False})
        node.send(P.PING, 0, {"t": 7})
        assert (await node.expect(types=(P.PONG,))).body["t"] == 7
        node.send(P.CANCEL, 3, {})
        r = await node.expect(fid=3)
        assert r.type == P.ERROR and r.body["code"] == "cancelled"
        # REQUEST and CANCEL in one read: the task is cancelled before it runs.
        node.send_raw(P.encode_frame(P.REQUEST, 4, {"tool": "asleep", "args": {"ms": 60_000},
                                                    "stream": False})
                      + P.encode_frame(P.CANCEL, 4, {}))
        r = await node.expect(fid=4)
        assert r.type == P.ERROR and r.body["code"] == "cancelled"
        node.send(P.REQUEST, 5, {"tool": "aget", "args": {"name": "v"}, "stream": False,
                                 "session_id": "s1"})
        call = await node.expect(types=(P.CALL,))
        assert call.body["op"] == "session.get_var"
        node.send(P.CALL_RESULT, call.id, {"result": 41})
        assert (await node.expect(fid=5)).body == {"result": 41}
        node.send(P.SESSION_CLOSED, 0, {"session_id": "s1"})
        for _ in range(100):
            if (await node.request(6, "closed")).body["result"] == ["s1"]:
                break
            await asyncio.sleep(0.02)
        else:
            raise AssertionError("on_session_closed was not called")
        node.send(P.SHUTDOWN, 0, {"deadline_ms": 5000})
        assert await node.wait_exit() == 0

    harness.run(body, adapter="async_adapter", concurrency=4)


def test_io_threads_keep_reading_while_tools_run_inline_and_in_the_pool(harness):
    async def body(node: FakeNode):
        await node.start()
        await node.handshake()
        # One at a time, so each arrives in its own read: the first runs inline on
        # an I/O thread, the second inline on the other one once it took over the
        # reading, the third in the pool (no standby left to hand the reading to).
        for fid in (1, 2, 3):
            node.send(P.REQUEST, fid, {"tool": "sleep", "args": {"ms": 60_000},
                                       "stream": False})
            node.send(P.PING, 0, {"t": fid})
            assert (await node.expect(types=(P.PONG,))).body["t"] == fid
        assert (await node.request(4, "async_echo", {"a": 1})).body == {"result": {"a": 1}}
        for fid in (2, 1, 3):
            node.send(P.CANCEL, fid, {})
            r = await node.expect(fid=fid)
            assert r.type == P.ERROR and r.body["code"] == "cancelled", r
            node.send(P.PING, 0, {"t": 10 + fid})
            assert (await node.expect(types=(P.PONG,))).body["t"] == 10 + fid
        # Everything idle again: plain calls, and a call answered by the node
        # while the tool runs inline.
        for fid in range(5, 25):
            assert (await node.request(fid, "add", {"a": fid, "b": 1})).body == \
                {"result": fid + 1}
        node.send(P.REQUEST, 30, {"tool": "incr", "args": {"name": "n"}, "stream": False,
                                  "session_id": "s"})
        while True:
            call = await node.expect(types=(P.CALL,))
            if call.body["op"] == "session.get_var":
                node.send(P.CALL_RESULT, call.id, {"result": 1})
            else:
                node.send(P.CALL_RESULT, call.id, {"result": None})
                break
        assert (await node.expect(fid=30)).body == {"result": 2}

    harness.run(body, concurrency=4)
