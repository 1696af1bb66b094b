"""A module-of-functions adapter (spec "funcs_adapter")."""

from __future__ import annotations

import logging

from snakepit_worker import Context, NodeCallError, SnakepitError, tool

STATE = {"setup_calls": 0, "closed": []}
#: How many items each logged generator has made, so a test can ask the worker itself.
PRODUCED = {"gen_logged": 0, "async_gen_logged": 0}
log = logging.getLogger("funcs_adapter")


def setup() -> None:
    STATE["setup_calls"] += 1


def on_session_closed(session_id: str) -> None:
    STATE["closed"].append(session_id)
    log.warning("session closed: %s", session_id)


@tool
def multiply(a: float, b: float) -> float:
    """Multiplies two numbers.

    More text that is not part of the summary line.
    """
    return a * b


@tool(name="state", doc="Shows the module's state.")
def get_state() -> dict:
    return STATE


@tool
def whoami(context: Context) -> dict:
    """Context injected by annotation, under another parameter name."""
    return {"tool": context.tool, "correlation_id": context.correlation_id}


@tool
def type_error_inside(x: int) -> int:
    """Raises TypeError from inside the tool (must be tool_failed, not bad_request)."""
    return x + "a"  # type: ignore[operator]


@tool
def not_serialisable() -> object:
    return {"s": {1, 2}}


@tool
def nan() -> float:
    return float("nan")


@tool
def session_tool(ctx) -> object:
    """Touches ctx.session (raises SessionUnavailableError without a session)."""
    return ctx.session.all()


@tool
async def async_session(ctx: Context) -> object:
    await ctx.session.aset("k", [1, 2])
    return await ctx.session.aget("k")


@tool
def session_gen(ctx: Context):
    """A generator that reads the session before its first item."""
    yield ctx.session.get("k")


@tool
async def async_session_gen(ctx: Context):
    yield await ctx.session.aget("k")


class CodedError(Exception):
    """A user exception with a ``code`` attribute: not the worker's, so never passed through."""

    def __init__(self, code: str) -> None:
        super().__init__(f"coded {code}")
        self.code = code


class ForgedError(SnakepitError):
    code = "worker_crashed"


@tool
def raise_coded(kind: str, code: str = "worker_crashed"):
    """Raises an exception that claims an error code (only session codes may pass)."""
    if kind == "node_call":
        raise NodeCallError(code, "raised by the tool itself")
    if kind == "subclass":
        raise ForgedError("a SnakepitError subclass with its own code")
    raise CodedError(code)


@tool
async def async_sleep(ms: float) -> str:
    import asyncio

    await asyncio.sleep(ms / 1000.0)
    return "done"


@tool
def gen_cleanup(n: int):
    try:
        for i in range(n):
            yield i
    finally:
        log.warning("generator closed")


@tool
def call_op(op: str, ctx: Context, **args):
    return ctx.call(op, **args)


@tool
def log_from_thread(ctx: Context) -> bool:
    """Logs with a plain module logger (the request is found via contextvars)."""
    log.warning("plain logger record")
    return True


@tool
def big_result(size: int) -> str:
    return "x" * size


@tool
def gen_logged(n: int):
    """Counts and logs before producing each item, to show when the generator is advanced."""
    PRODUCED["gen_logged"] = 0
    for i in range(n):
        PRODUCED["gen_logged"] = i + 1
        log.warning("producing %d", i)
        yield {"i": i}


@tool
async def async_gen_logged(n: int):
    PRODUCED["async_gen_logged"] = 0
    for i in range(n):
        PRODUCED["async_gen_logged"] = i + 1
        log.warning("async producing %d", i)
        yield {"i": i}


@tool
def produced(name: str) -> int:
    """How many items the generator tool ``name`` has made so far."""
    return PRODUCED[name]


@tool
def sleep(ms: float, ctx: Context) -> str:
    """Cancellable sleep."""
    if ctx.wait_cancelled(ms / 1000.0):
        ctx.raise_if_cancelled()
    return "slept"


@tool
async def wrong_sync_call(ctx: Context):
    """Uses the blocking session API from an async tool (a mistake the runtime explains)."""
    return ctx.session.get("x")


@tool
def fork_and_log() -> int:
    """Forks a child that logs and prints, as a multiprocessing 'fork' child would."""
    import os

    pid = os.fork()
    if pid == 0:
        try:
            log.warning("record from forked child")
            print("print from forked child", flush=True)
        finally:
            os._exit(0)
    _, status = os.waitpid(pid, 0)
    log.warning("record from parent after fork")
    return status


@tool
def deep_failure(depth: int):
    """Fails with a long traceback and message."""
    if depth > 0:
        return deep_failure(depth - 1)
    raise ValueError("m" * 5000)


@tool
def log_big(size: int) -> bool:
    log.warning("L" * size)
    return True


@tool
def fork_and_return() -> str:
    """Forks; the child returns from the tool too (a user bug the runtime must contain)."""
    import os

    pid = os.fork()
    if pid == 0:
        return "child"
    _, status = os.waitpid(pid, 0)
    return f"parent, child status {status}"
