"""Snakepit worker runtime and adapter API.

Write tools as decorated methods of an :class:`Adapter` subclass (adapter spec
``"package.module:ClassName"``) or as decorated module-level functions (spec
``"package.module"``)::

    from snakepit_worker import Adapter, Context, tool

    class Greeter(Adapter):
        def setup(self):
            self.greeting = "hello"

        @tool
        def greet(self, name: str, ctx: Context) -> str:
            ctx.logger.info("greeting %s", name)
            return f"{self.greeting}, {name}"

The node starts workers with ``python3 -m snakepit_worker``; see README.md.
"""

from __future__ import annotations

from .adapter import Adapter, tool
from .context import Context, Session
from .errors import (
    AdapterError,
    NodeCallError,
    SessionUnavailableError,
    SnakepitError,
    ToolCancelled,
)
from .protocol import PROTOCOL_VERSION

__version__ = "0.1.0"

__all__ = [
    "Adapter",
    "AdapterError",
    "Context",
    "NodeCallError",
    "PROTOCOL_VERSION",
    "Session",
    "SessionUnavailableError",
    "SnakepitError",
    "ToolCancelled",
    "tool",
]
