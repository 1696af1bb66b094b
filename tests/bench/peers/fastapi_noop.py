"""FastAPI peer of the node's POST /v1/execute, for tests/bench-http.sh.

What a user would write to serve Python tools over HTTP without Snakepit: a
pydantic model for the request, a dict of tools, and the node's answer shape
({"result": ..., "worker": ..., "node": ...}). Run under uvicorn with as many
worker processes as the node has Python workers:

    /usr/bin/python3 -m uvicorn fastapi_noop:app --app-dir tests/bench/peers \
        --host 127.0.0.1 --port 8000 --workers 2 --loop uvloop --http httptools
"""

import os
import socket
from typing import Any, Callable, Dict, Optional

from fastapi import FastAPI, HTTPException
from pydantic import BaseModel

app = FastAPI()

# Like the node's worker names ("default-0.0@..."), which process answered.
WORKER = "default-%d" % os.getpid()
NODE = "fastapi-" + socket.gethostname()


def noop() -> None:
    return None


TOOLS: Dict[str, Callable[..., Any]] = {"noop": noop}


class ExecuteRequest(BaseModel):
    """The node's request body (docs/http-api.md#post-v1execute); only tool is required."""

    tool: str
    args: Dict[str, Any] = {}
    pool: Optional[str] = None
    timeout_ms: Optional[int] = None


# async def: a sync handler would go through Starlette's thread pool, slower for a no-op.
@app.post("/v1/execute")
async def execute(req: ExecuteRequest) -> Dict[str, Any]:
    tool = TOOLS.get(req.tool)
    if tool is None:
        raise HTTPException(status_code=404, detail="unknown tool " + req.tool)
    return {"result": tool(**req.args), "worker": WORKER, "node": NODE}


@app.get("/health")
async def health() -> Dict[str, str]:
    return {"status": "UP", "node": NODE}
