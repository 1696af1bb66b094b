"""The chaos harness's tools (spec "chaos_adapter:ChaosAdapter").

Every demo tool, plus ``hold``, which reports the interval it ran in its
worker on the machine's monotonic clock. The harness (tests/chaos.sh) sends
``hold`` calls of one session to every node and checks that no two nodes ran
acknowledged calls of the same session at the same time.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Dict

from snakepit_worker import Context, tool
from snakepit_worker.demo import DemoAdapter


class ChaosAdapter(DemoAdapter):
    """The demo's tools and ``hold``."""

    @tool
    def hold(self, ms: float, ctx: Context) -> Dict[str, Any]:
        """Runs ``ms`` milliseconds in a session and returns when, by
        ``time.monotonic_ns()``: the clock of the node's ``System.nanoTime()``
        on Linux, so the harness can line the interval up with its history."""
        ctx.session.id  # a session call only: raises SessionUnavailableError without one
        start = time.monotonic_ns()
        # Not time.sleep: the skew nemesis preloads libfaketime into the node, its workers inherit it, and
        # under libfaketime 0.9.10 Python's sleep fails with EINVAL even in a process it does not fake.
        threading.Event().wait(ms / 1000.0)
        return {"start_ns": start, "end_ns": time.monotonic_ns(), "worker_id": ctx.worker_id}
