"""A test adapter that misbehaves on purpose, to check the node survives it."""

import os

from snakepit_worker import Adapter, tool


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
