"""An adapter whose tools are all ``async`` (spec "async_adapter").

Such a worker reads its socket on the event loop (the runtime's loop mode),
so these tools start without a thread hop; the tests check that every
feature still works that way.
"""

from __future__ import annotations

import asyncio
from typing import Any, AsyncIterator, Dict

from snakepit_worker import Context, tool

CLOSED = []
#: How many items the current ``acount`` stream has made.
PRODUCED = {"n": 0}


async def on_session_closed(session_id: str) -> None:
    CLOSED.append(session_id)


@tool
async def aecho(**args: Any) -> Dict[str, Any]:
    """Returns its arguments."""
    return args


@tool
async def asleep(ms: float) -> Dict[str, Any]:
    """Sleeps; a CANCEL interrupts it."""
    await asyncio.sleep(ms / 1000.0)
    return {"slept_ms": ms}


@tool
async def acount(n: int) -> AsyncIterator[Dict[str, int]]:
    """Streams {"i": i} for i in range(n), counting how far it got."""
    PRODUCED["n"] = 0
    for i in range(n):
        PRODUCED["n"] = i + 1
        yield {"i": i}


@tool
async def aproduced() -> int:
    """How many items the current ``acount`` stream has made."""
    return PRODUCED["n"]


@tool
async def aget(name: str, ctx: Context) -> Any:
    """Reads a session variable through the node."""
    return await ctx.session.aget(name, "unset")


@tool
async def closed() -> Any:
    """The session ids on_session_closed has seen."""
    return list(CLOSED)
