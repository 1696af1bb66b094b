"""An adapter as a user would write one, packaged into the image by ``../Dockerfile``.

``version`` says which build of the tools answers (docker/test-cluster.sh changes it to check a
rolling upgrade); ``note`` and ``notes`` keep per-session state in the worker's memory and hand
it to the session's next worker when this one's node drains.
"""

from __future__ import annotations

import json
import threading
from typing import Dict, List, Optional

from snakepit_worker import Adapter, Context, tool

VERSION = "1"


class Tools(Adapter):
    def setup(self) -> None:
        self._notes: Dict[str, List[str]] = {}
        self._lock = threading.Lock()

    @tool
    def version(self) -> str:
        """The version of these tools."""
        return VERSION

    @tool
    def greet(self, name: str) -> str:
        """Says hello."""
        return f"Hello, {name}!"

    @tool
    def note(self, text: str, ctx: Context) -> int:
        """Adds ``text`` to this session's notes, kept in this worker's memory; returns their number."""
        with self._lock:
            notes = self._notes.setdefault(ctx.session.id, [])
            notes.append(text)
            return len(notes)

    @tool
    def notes(self, ctx: Context) -> List[str]:
        """This session's notes."""
        with self._lock:
            return list(self._notes.get(ctx.session.id, []))

    def export_session(self, session_id: str) -> Optional[bytes]:
        with self._lock:
            notes = self._notes.get(session_id)
        return None if notes is None else json.dumps(notes).encode("utf-8")

    def import_session(self, session_id: str, data: bytes) -> None:
        with self._lock:
            self._notes[session_id] = json.loads(data.decode("utf-8"))

    def on_session_closed(self, session_id: str) -> None:
        with self._lock:
            self._notes.pop(session_id, None)
