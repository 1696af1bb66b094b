"""An adapter whose import starts a thread, which a fork would not carry over
(spec "thread_at_import_adapter:ThreadAtImport"): the forkserver spawns its
workers instead of forking them."""

from __future__ import annotations

import threading
import time

from snakepit_worker import Adapter, tool

threading.Thread(target=lambda: time.sleep(3600), name="started-at-import", daemon=True).start()


class ThreadAtImport(Adapter):
    @tool
    def threads(self) -> list:
        return [t.name for t in threading.enumerate()]
