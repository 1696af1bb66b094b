"""The fuzz harness's tools (spec "fuzz_adapter:FuzzAdapter").

Every demo tool, plus ``garble``, which turns its worker into a hostile one:
it writes random frames onto the worker's own connection to the node (well
formed and not, of every type, for its own request id and others), so that
the harness (tests/fuzz.sh) can check what the node does with them. The node
must answer the call with a typed error, replace the worker if it must, and
stay healthy.
"""

from __future__ import annotations

import json
import random
import struct
from typing import Any, Dict, List

from snakepit_worker import Context, tool
from snakepit_worker import protocol as P
from snakepit_worker.demo import DemoAdapter

_HEADER = struct.Struct(">IBII")


def _json_value(rnd: random.Random, depth: int) -> Any:
    kind = rnd.randrange(8 if depth > 0 else 5)
    if kind == 0:
        return None
    if kind == 1:
        return rnd.random() < 0.5
    if kind == 2:
        return rnd.choice([0, -1, 2**31, 2**63, rnd.randrange(-10**9, 10**9)])
    if kind == 3:
        return rnd.choice(["", "x" * rnd.randrange(100), "\u0000", "\ud7ff", "__snakepit_", "result"])
    if kind == 4:
        return rnd.random()
    if kind in (5, 6):
        keys = ["result", "error", "code", "message", "op", "session_id", "name", "value", "level",
                "logger", "item", "credit", "request_id", "worker_id", "$attachment", "__bytes__"]
        return {rnd.choice(keys): _json_value(rnd, depth - 1) for _ in range(rnd.randrange(4))}
    return [_json_value(rnd, depth - 1) for _ in range(rnd.randrange(3))]


def _frame(rnd: random.Random, own_id: int) -> bytes:
    ftype = rnd.randrange(1, 18) if rnd.random() < 0.9 else rnd.randrange(256)
    fid = own_id if rnd.random() < 0.5 else rnd.choice([0, 1, 2**32 - 1, rnd.randrange(2**32)])
    body = _json_value(rnd, 3)
    if not isinstance(body, dict) and rnd.random() < 0.7:
        body = {"result": body}
    text = json.dumps(body).encode() if rnd.random() < 0.9 else bytes(
        rnd.randrange(256) for _ in range(rnd.randrange(40)))
    attachments: List[bytes] = []
    if rnd.random() < 0.2:
        attachments = [bytes(rnd.randrange(256) for _ in range(rnd.randrange(20)))
                       for _ in range(rnd.randrange(3))]
    json_len = len(text) if rnd.random() < 0.9 else rnd.choice([0, len(text) + 5, 2**32 - 1])
    rest = text + b"".join(struct.pack(">I", len(a)) + a for a in attachments)
    length = P.MIN_FRAME + len(rest)
    if rnd.random() < 0.05:
        length = rnd.choice([0, 3, P.MIN_FRAME - 1, 2**32 - 1, length + 1])
    if rnd.random() < 0.05:
        rest = rest[:rnd.randrange(len(rest) + 1)]
    return _HEADER.pack(length, ftype & 0xFF, fid & 0xFFFFFFFF, json_len & 0xFFFFFFFF) + rest


class FuzzAdapter(DemoAdapter):
    """The demo's tools, ``garble`` and ``send_frame``."""

    @tool
    def send_frame(self, ftype: int, body: Dict[str, Any], ctx: Context) -> Dict[str, Any]:
        """Writes one well-formed frame of type ``ftype`` for this call's own request id, then returns
        normally: the node's tests use it to send a frame that is valid on the wire but wrong for the call."""
        ctx._link._rt.send(P.encode_frame(ftype, ctx.request_id, body))  # type: ignore[attr-defined]
        return {"sent": ftype}

    @tool
    def garble(self, seed: int, frames: int, ctx: Context) -> Dict[str, Any]:
        """Writes ``frames`` random frames onto this worker's connection, from ``seed``."""
        rnd = random.Random(seed)
        # The runtime behind the context's link: its send() writes whole frames onto the node connection.
        runtime = ctx._link._rt  # type: ignore[attr-defined]
        for _ in range(frames):
            runtime.send(_frame(rnd, ctx.request_id))
        return {"sent": frames}
