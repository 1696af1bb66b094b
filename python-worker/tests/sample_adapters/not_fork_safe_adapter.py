"""An adapter that declares itself not fork-safe (spec
"not_fork_safe_adapter:NotForkSafe"): the forkserver spawns its workers."""

from __future__ import annotations

import os

from snakepit_worker import Adapter, tool


class NotForkSafe(Adapter):
    #: Read by the forkserver before it forks workers from this adapter.
    fork_safe = False

    def setup(self) -> None:
        self.setup_pid = os.getpid()

    @tool
    def setup_pid_and_pid(self) -> list:
        return [self.setup_pid, os.getpid()]
