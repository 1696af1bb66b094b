"""A test adapter that misbehaves on purpose, or exposes internals, to test the node."""

import os

from snakepit_worker import Adapter, tool

_MEMORY = {}
_PRODUCED = {"n": 0}


class EvilAdapter(Adapter):
    @tool
    def corrupt_protocol(self) -> None:
        """Writes garbage straight onto the node's socket, as a buggy C extension might."""
        for fd in os.listdir("/proc/self/fd"):
            try:
                if os.readlink(f"/proc/self/fd/{fd}").startswith("socket:"):
                    os.write(int(fd), b"\xff\xff\xff\xffgarbage" * 4)
            except OSError:
                pass

    @tool
    def echo(self, **args):
        return args

    @tool
    def peek(self, other: str, ctx) -> object:
        """Tries to read another session's variable through the node."""
        return ctx.call("session.get_var", session_id=other, name="secret")

    @tool
    def remember(self, value, ctx):
        _MEMORY[ctx.session.id] = value
        return ctx.worker_id

    @tool
    def recall(self, ctx):
        return _MEMORY.get(ctx.session.id)

    @tool
    def sleep(self, ms: int, ctx):
        ctx.wait_cancelled(ms / 1000.0)
        return ctx.worker_id

    @tool
    def produce(self, n: int):
        """Streams 0..n-1, counting how far the generator got."""
        for i in range(n):
            _PRODUCED["n"] = i + 1
            yield i

    @tool
    def produced(self) -> int:
        return _PRODUCED["n"]
