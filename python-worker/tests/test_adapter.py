"""The adapter API (decorator, loading, argument binding), config and Context, in-process."""

from __future__ import annotations

import ast
import asyncio
import logging
import os
import sys
import threading

import pytest

from snakepit_worker import (
    Adapter, AdapterError, Context, NodeCallError, SessionUnavailableError, ToolCancelled, tool,
)
from snakepit_worker.adapter import ToolSpec, load_adapter
from snakepit_worker.config import ConfigError, config_from_env, parse_endpoint
from snakepit_worker.context import NodeLink

PACKAGE_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                           "snakepit_worker")


class FakeLink(NodeLink):
    def __init__(self, answers=None):
        self.sent = []
        self.answers = answers or {}

    def call(self, op, args, ctx):
        self.sent.append((op, args))
        answer = self.answers.get(op)
        if isinstance(answer, Exception):
            raise answer
        return answer


def make_ctx(session_id=None, link=None, tool_name="t"):
    return Context(tool_name, 1, session_id, "corr-1", "w-1", "n-1", link or FakeLink())


# -- decorator and loading ------------------------------------------------------


def test_decorator_bare_and_with_options_returns_the_function():
    def f(a):
        return a

    assert tool(f) is f and f(3) == 3
    g = tool(name="gee", doc="Gee.")(lambda: 1)
    assert g() == 1


def test_class_adapter_tools_kinds_and_docs():
    loaded = load_adapter("snakepit_worker.demo:DemoAdapter")
    kinds = {t["name"]: t["kind"] for t in loaded.describe_tools()}
    assert kinds["count"] == "stream" and kinds["async_count"] == "stream"
    assert kinds["add"] == "unary" and kinds["async_echo"] == "unary"
    assert loaded.tools["async_echo"].is_async and not loaded.tools["add"].is_async
    assert loaded.tools["add"].doc == "Returns a + b."
    assert [t["name"] for t in loaded.describe_tools()] == sorted(kinds)


def test_module_adapter_uses_decorated_functions_and_hooks():
    import funcs_adapter

    loaded = load_adapter("funcs_adapter")
    assert "multiply" in loaded.tools and "state" in loaded.tools
    assert loaded.tools["multiply"].doc == "Multiplies two numbers."
    assert loaded.tools["state"].doc == "Shows the module's state."
    assert loaded.setup_hook is funcs_adapter.setup
    assert loaded.on_session_closed is funcs_adapter.on_session_closed
    assert loaded.tools["whoami"].ctx_param == "context"  # found by annotation


def test_duplicate_tool_names_are_refused():
    with pytest.raises(AdapterError, match="duplicate tool name 'same'"):
        load_adapter("dup_adapter")

    class Dup(Adapter):
        @tool(name="x")
        def a(self):
            pass

        @tool(name="x")
        def b(self):
            pass

    module = type(sys)("dup_class_mod")
    module.Dup = Dup
    sys.modules["dup_class_mod"] = module
    try:
        with pytest.raises(AdapterError, match="duplicate tool name 'x'"):
            load_adapter("dup_class_mod:Dup")
    finally:
        del sys.modules["dup_class_mod"]


@pytest.mark.parametrize("spec, message", [
    ("snakepit_worker.demo:Nope", "has no attribute 'Nope'"),
    ("snakepit_worker.demo:", "malformed"),
    ("snakepit_worker.errors", "defines no tools"),
    ("snakepit_worker.demo:_PATTERN", "is not a class"),
])
def test_bad_specs(spec, message):
    with pytest.raises(AdapterError, match=message):
        load_adapter(spec)


def test_import_errors_propagate():
    with pytest.raises(ImportError, match="on purpose"):
        load_adapter("broken_adapter")


def test_subclass_inherits_and_overrides_tools():
    class Base(Adapter):
        @tool
        def a(self):
            return "base"

        @tool
        def b(self):
            return "base"

    class Child(Base):
        def b(self):  # override without @tool: no longer a tool
            return "child"

        @tool
        def c(self):
            return "child"

    module = type(sys)("inherit_mod")
    module.Child = Child
    sys.modules["inherit_mod"] = module
    try:
        loaded = load_adapter("inherit_mod:Child")
    finally:
        del sys.modules["inherit_mod"]
    assert sorted(n for n in loaded.tools if not n.startswith("__snakepit_")) == ["a", "c"]


# -- argument binding --------------------------------------------------------------


def spec_of(func):
    return ToolSpec(func.__name__, "", func)


def test_bind_checks_arguments_before_the_call():
    def add(a, b=2):
        return a + b

    s = spec_of(add)
    assert s.bind({"a": 1}, None) == {"a": 1}
    with pytest.raises(TypeError, match="missing required argument.*'a'"):
        s.bind({}, None)
    with pytest.raises(TypeError, match="unexpected argument 'c'.*accepts: a, b"):
        s.bind({"a": 1, "c": 3}, None)


def test_ctx_injection_by_name_or_annotation_only():
    ctx = make_ctx()

    def by_name(x, ctx):
        pass

    def by_annotation(x, c: Context):
        pass

    def by_string_annotation(x, c: "snakepit_worker.Context"):  # noqa: F821
        pass

    def none(x, **kw):
        pass

    assert spec_of(by_name).bind({"x": 1}, ctx) == {"x": 1, "ctx": ctx}
    assert spec_of(by_annotation).bind({"x": 1}, ctx) == {"x": 1, "c": ctx}
    assert spec_of(by_string_annotation).bind({"x": 1}, ctx) == {"x": 1, "c": ctx}
    assert spec_of(none).bind({"x": 1, "ctx": 2}, ctx) == {"x": 1, "ctx": 2}
    with pytest.raises(TypeError, match="reserved"):
        spec_of(by_name).bind({"x": 1, "ctx": 5}, ctx)


def test_positional_only_falls_back_to_signature_bind():
    ns = {}
    exec("def f(a, /, b):\n    return a", ns)
    with pytest.raises(TypeError, match="tool 'f'"):
        spec_of(ns["f"]).bind({"a": 1, "b": 2}, None)


# -- context and session -------------------------------------------------------------


def test_context_cancellation_flag_and_event():
    ctx = make_ctx()
    assert not ctx.cancelled and not ctx.is_cancelled()
    ctx.raise_if_cancelled()
    assert ctx.wait_cancelled(0.001) is False
    waiter_result = []
    started = threading.Event()

    def waiter():
        started.set()
        waiter_result.append(ctx.wait_cancelled(20))

    t = threading.Thread(target=waiter)
    t.start()
    started.wait(20)
    ctx._set_cancelled()
    t.join(20)
    assert waiter_result == [True]
    assert ctx.cancelled
    with pytest.raises(ToolCancelled):
        ctx.raise_if_cancelled()
    # An event made after cancellation starts set.
    ctx2 = make_ctx()
    ctx2._set_cancelled()
    assert ctx2.cancel_event().is_set()


def test_session_unavailable_without_session_id():
    with pytest.raises(SessionUnavailableError, match=r"POST /v1/sessions/\{id\}/execute"):
        make_ctx(session_id=None).session


def test_session_methods_map_to_ops():
    link = FakeLink({"session.get_var": 41, "session.vars": {"a": 1}, "session.incr": 5})
    s = make_ctx(session_id="s1", link=link).session
    assert s.id == "s1"
    assert s.get("a") == 41
    s.set("a", 42)
    s.delete("a")
    assert s.incr("n") == 5
    assert s.incr("n", by=-2) == 5
    assert s.all() == {"a": 1}
    s.set_meta("k", "v")
    assert link.sent == [
        ("session.get_var", {"session_id": "s1", "name": "a"}),
        ("session.put_var", {"session_id": "s1", "name": "a", "value": 42}),
        ("session.delete_var", {"session_id": "s1", "name": "a"}),
        ("session.incr", {"session_id": "s1", "name": "n", "by": 1}),
        ("session.incr", {"session_id": "s1", "name": "n", "by": -2}),
        ("session.vars", {"session_id": "s1"}),
        ("session.put_meta", {"session_id": "s1", "key": "k", "value": "v"}),
    ]


def test_async_session_incr_maps_to_the_same_op():
    class AsyncLink(FakeLink):
        async def acall(self, op, args):
            return self.call(op, args, None)

    link = AsyncLink({"session.incr": 3})
    s = make_ctx(session_id="s1", link=link).session
    assert asyncio.run(s.aincr("n", 3)) == 3
    assert link.sent == [("session.incr", {"session_id": "s1", "name": "n", "by": 3})]


def test_session_get_default_on_null_or_not_found():
    link = FakeLink({"session.get_var": None})
    assert make_ctx("s", link).session.get("x", 7) == 7
    link = FakeLink({"session.get_var": NodeCallError("not_found", "no x")})
    assert make_ctx("s", link).session.get("x", 8) == 8
    link = FakeLink({"session.get_var": NodeCallError("store_down", "oops")})
    with pytest.raises(NodeCallError) as info:
        make_ctx("s", link).session.get("x")
    assert info.value.code == "store_down" and info.value.message == "oops"


def test_context_logger_carries_ids():
    records = []

    class Capture(logging.Handler):
        def emit(self, record):
            records.append(record)

    handler = Capture()
    logging.getLogger().addHandler(handler)
    try:
        ctx = make_ctx(session_id="s9", tool_name="mytool")
        ctx.logger.warning("hello %s", "there", extra={"more": 1})
    finally:
        logging.getLogger().removeHandler(handler)
    [record] = [r for r in records if r.name == "snakepit.tools.mytool"]
    assert record.getMessage() == "hello there"
    assert record.correlation_id == "corr-1" and record.session_id == "s9"
    assert record.more == 1


# -- config ------------------------------------------------------------------------------


BASE_ENV = {
    "SNAKEPIT_ENDPOINT": "unix:/tmp/x.sock",
    "SNAKEPIT_TOKEN": "t",
    "SNAKEPIT_WORKER_ID": "w-1.1",
    "SNAKEPIT_ADAPTER": "m:C",
}


def test_config_defaults_and_values():
    cfg = config_from_env(BASE_ENV)
    assert cfg.endpoint.kind == "unix" and cfg.endpoint.path == "/tmp/x.sock"
    assert cfg.concurrency == 1 and cfg.parent_pid is None and cfg.node_id == ""
    cfg = config_from_env(dict(BASE_ENV, SNAKEPIT_CONCURRENCY="8", SNAKEPIT_PARENT_PID="123",
                               SNAKEPIT_NODE_ID="n", SNAKEPIT_MAX_FRAME_BYTES="1000"))
    assert (cfg.concurrency, cfg.parent_pid, cfg.node_id,
            cfg.max_frame_bytes) == (8, 123, "n", 1000)
    assert config_from_env(BASE_ENV).busy_poll_us == 0
    assert config_from_env(dict(BASE_ENV, SNAKEPIT_BUSY_POLL_US="50")).busy_poll_us == 50
    ep = parse_endpoint("tcp:127.0.0.1:4567")
    assert (ep.kind, ep.host, ep.port) == ("tcp", "127.0.0.1", 4567)
    assert str(ep) == "tcp:127.0.0.1:4567"


@pytest.mark.parametrize("change, message", [
    ({"SNAKEPIT_TOKEN": ""}, "SNAKEPIT_TOKEN is not set"),
    ({"SNAKEPIT_ENDPOINT": "http://x"}, "SNAKEPIT_ENDPOINT"),
    ({"SNAKEPIT_ENDPOINT": "tcp:host:notaport"}, "SNAKEPIT_ENDPOINT"),
    ({"SNAKEPIT_CONCURRENCY": "zero"}, "not an integer"),
    ({"SNAKEPIT_CONCURRENCY": "0"}, "at least 1"),
    ({"SNAKEPIT_PARENT_PID": "-5"}, "at least 1"),
    ({"SNAKEPIT_MAX_FRAME_BYTES": "3"}, "at least 9"),
    ({"SNAKEPIT_BUSY_POLL_US": "-1"}, "at least 0"),
    ({"SNAKEPIT_BUSY_POLL_US": "20000"}, "limit of 10000"),
])
def test_config_errors(change, message):
    with pytest.raises(ConfigError, match=message):
        config_from_env(dict(BASE_ENV, **change))


# -- Python 3.9 compatibility guard ----------------------------------------------------------


def test_package_parses_as_python_3_9():
    """The worker must run on Python 3.9: no match statements, no 3.10+ syntax."""
    for name in sorted(os.listdir(PACKAGE_DIR)):
        if name.endswith(".py"):
            path = os.path.join(PACKAGE_DIR, name)
            with open(path, encoding="utf-8") as f:
                ast.parse(f.read(), filename=path, feature_version=(3, 9))


def test_handoff_hooks_are_served_as_reserved_tools_and_not_listed() -> None:
    loaded = load_adapter("snakepit_worker.demo:DemoAdapter")
    loaded.setup()
    names = [t["name"] for t in loaded.describe_tools()]
    assert "__snakepit_export__" not in names and "remember" in names
    export = loaded.tools["__snakepit_export__"].func
    restore = loaded.tools["__snakepit_import__"].func
    assert export("nobody") is None
    restore("s1", b'{"k": [1, 2]}')
    assert export("s1") == b'{"k": [1, 2]}'


def test_reserved_tool_names_are_refused(tmp_path, monkeypatch) -> None:
    (tmp_path / "reserved_names.py").write_text(
        "from snakepit_worker import tool\n\n@tool(name='__snakepit_export__')\ndef x():\n    return 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(AdapterError, match="reserved"):
        load_adapter("reserved_names")
