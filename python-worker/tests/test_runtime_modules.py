"""The runtime's modules in-process: what runtime.py re-exports, frame encoding, error codes."""

from __future__ import annotations

from snakepit_worker import protocol as P
from snakepit_worker import runtime
from snakepit_worker.adapter import ToolSpec
from snakepit_worker.encoding import MAX_LOG_MESSAGE, FrameEncoder, failure_code
from snakepit_worker.errors import (
    AdapterError, NodeCallError, SessionUnavailableError, SnakepitError, ToolCancelled,
)
from snakepit_worker.execution import _Call


def decode(frame: bytes) -> P.Frame:
    [decoded] = P.FrameDecoder().feed(frame)
    return decoded


def make_call(fid: int = 7, name: str = "t") -> _Call:
    def t() -> None:
        pass

    return _Call(fid, ToolSpec(name, "", t), None)  # type: ignore[arg-type]


def test_runtime_still_offers_the_names_other_code_imports():
    from snakepit_worker.runtime import (
        EXIT_ADAPTER, EXIT_CONFIG, EXIT_CONNECT, EXIT_INTERNAL, EXIT_OK, EXIT_PROTOCOL,
        EXIT_REJECTED, MAX_LOG_MESSAGE, MAX_TRACEBACK, WRITE_HIGH_WATER, WorkerRuntime, read_rss,
    )

    assert (EXIT_OK, EXIT_INTERNAL, EXIT_CONFIG, EXIT_ADAPTER, EXIT_REJECTED, EXIT_PROTOCOL,
            EXIT_CONNECT) == (0, 1, 2, 3, 4, 5, 6)
    assert MAX_LOG_MESSAGE > 0 and MAX_TRACEBACK > 0 and WRITE_HIGH_WATER > 0
    assert WorkerRuntime.__module__ == "snakepit_worker.runtime"
    for name in runtime.__all__:
        assert hasattr(runtime, name), name
    rss = read_rss()
    assert rss is None or rss > 0


def test_item_encodes_results_and_chunks():
    enc = FrameEncoder(P.DEFAULT_MAX_FRAME_BYTES)
    call = make_call()
    frame = decode(enc.item(call, P.RESULT, "result", {"a": [1, b"\x00"]}))
    assert (frame.type, frame.id, frame.body) == (P.RESULT, 7, {"result": {"a": [1, b"\x00"]}})
    assert decode(enc.item(call, P.CHUNK, "item", 3)).body == {"item": 3}


def test_item_turns_unsendable_values_into_tool_failed():
    enc = FrameEncoder(4096)
    call = make_call(name="tool_x")
    cases = [
        (P.RESULT, {1, 2}, "TypeError", "tool 'tool_x' returned a value that is not JSON"),
        (P.CHUNK, float("nan"), "ValueError", "tool 'tool_x' yielded a value that cannot be"),
        (P.RESULT, "x" * 10_000, "snakepit_worker.protocol.FrameTooLargeError",
         "tool 'tool_x' returned a value too large to send"),
    ]
    for ftype, value, type_name, message in cases:
        frame = decode(enc.item(call, ftype, "result", value))
        assert frame.type == P.ERROR and frame.id == 7
        assert frame.body["code"] == "tool_failed" and frame.body["type"] == type_name
        assert frame.body["message"].startswith(message), frame.body["message"]


def test_error_and_log_frames_are_cut_to_the_node_limit():
    enc = FrameEncoder(4096)
    error = enc.error(1, "tool_failed", "ValueError", "m" * 10_000, tb="t" * 10_000,
                      tools=["a"] * 1000)
    assert len(error) <= 4096
    body = decode(error).body
    assert body["code"] == "tool_failed" and "tools" not in body
    assert body["traceback"].startswith("... [traceback cut]")
    log = decode(enc.log("INFO", "x", "L" * 20_000, "c-1", "s-1", 5, None))
    assert log.id == 5 and log.body["message"].endswith("[cut]")
    assert len(log.body["message"]) < 4096
    assert log.body["correlation_id"] == "c-1" and log.body["session_id"] == "s-1"
    big = FrameEncoder(P.DEFAULT_MAX_FRAME_BYTES)
    message = decode(big.log("INFO", "x", "L" * (MAX_LOG_MESSAGE + 10), None, None, 0,
                             "stderr")).body["message"]
    assert message.endswith("... [10 chars cut]")


def test_failure_code_passes_only_the_session_codes():
    class Coded(Exception):
        code = "session_required"

    class Forged(SnakepitError):
        code = "worker_crashed"

    class Broken(SnakepitError):
        @property
        def code(self):  # type: ignore[override]
            raise RuntimeError("no code")

    assert failure_code(SessionUnavailableError("x")) == "session_required"
    assert failure_code(NodeCallError("session_not_found", "gone")) == "session_not_found"
    assert failure_code(NodeCallError("session_required", "other")) == "session_required"
    for exc in (RuntimeError("x"), Coded(), Forged(), Broken(), AdapterError("x"),
                ToolCancelled("x"), NodeCallError("worker_crashed", "x"),
                NodeCallError("not_found", "x"),
                NodeCallError(["unhashable"], "x")):  # type: ignore[arg-type]
        assert failure_code(exc) == "tool_failed", exc


def test_tool_failed_frame_carries_the_passed_code():
    enc = FrameEncoder(P.DEFAULT_MAX_FRAME_BYTES)
    try:
        raise SessionUnavailableError("no session")
    except SessionUnavailableError as exc:
        body = decode(enc.tool_failed(make_call(), exc)).body
    assert body["code"] == "session_required" and body["message"] == "no session"
    assert body["type"] == "snakepit_worker.errors.SessionUnavailableError"
    assert body["traceback"].startswith("Traceback")
