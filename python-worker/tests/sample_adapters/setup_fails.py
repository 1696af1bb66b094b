"""An adapter class whose setup() raises."""

from snakepit_worker import Adapter, tool


class SetupFails(Adapter):
    def setup(self):
        raise RuntimeError("setup failed on purpose")

    @tool
    def x(self):
        return 1
