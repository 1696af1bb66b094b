"""A fake Snakepit node for tests: a real Unix-socket server speaking the protocol,
and a REAL ``python3 -m snakepit_worker`` subprocess connected to it.

Timeouts here are generous (they only matter when something is broken) and
every wait polls against a deadline instead of sleeping a fixed time.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from typing import Any, Callable, Dict, List, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
WORKER_DIR = os.path.dirname(HERE)
SAMPLE_ADAPTERS = os.path.join(HERE, "sample_adapters")

if WORKER_DIR not in sys.path:
    sys.path.insert(0, WORKER_DIR)

from snakepit_worker import protocol as P  # noqa: E402

#: Interpreter for worker processes; set SNAKEPIT_TEST_PYTHON to check another
#: version (e.g. python3.9) while pytest itself runs on this one.
WORKER_PYTHON = os.environ.get("SNAKEPIT_TEST_PYTHON") or sys.executable
TIMEOUT = 20.0
TOKEN = "ab" * 32
DEMO = "snakepit_worker.demo:DemoAdapter"


class FakeNode:
    """One fake node with one worker process."""

    def __init__(
        self,
        adapter: str = DEMO,
        concurrency: int = 4,
        token: str = TOKEN,
        env: Optional[Dict[str, str]] = None,
        worker_id: str = "test-1.1",
        transport: str = "unix",
    ) -> None:
        self.adapter = adapter
        self.concurrency = concurrency
        self.token = token
        self.extra_env = env or {}
        self.worker_id = worker_id
        self.transport = transport
        self.endpoint = ""
        self.dir = tempfile.mkdtemp(prefix="sp-")
        self.sock_path = os.path.join(self.dir, "worker.sock")
        self.stderr_path = os.path.join(self.dir, "stderr.txt")
        self.proc: Optional[subprocess.Popen] = None
        self.server: Optional[asyncio.AbstractServer] = None
        self.reader: Optional[asyncio.StreamReader] = None
        self.writer: Optional[asyncio.StreamWriter] = None
        self._conns: "asyncio.Queue[Any]" = asyncio.Queue()
        self._frames: List[P.Frame] = []
        self._frames_changed = asyncio.Event()
        self.logs: List[Dict[str, Any]] = []
        self.log_frames: List[P.Frame] = []
        self.closed = False
        self.read_error: Optional[BaseException] = None
        self._read_task: Optional[asyncio.Task] = None
        #: Answers CALL frames automatically when set: fn(op, body) -> CALL_RESULT body.
        self.call_handler: Optional[Callable[[str, Dict[str, Any]], Dict[str, Any]]] = None
        self.calls: List[P.Frame] = []

    # -- lifecycle -----------------------------------------------------------

    def env(self) -> Dict[str, str]:
        env = dict(os.environ)
        env.update({
            "SNAKEPIT_ENDPOINT": self.endpoint or f"unix:{self.sock_path}",
            "SNAKEPIT_TOKEN": self.token,
            "SNAKEPIT_WORKER_ID": self.worker_id,
            "SNAKEPIT_NODE_ID": "node-test",
            "SNAKEPIT_ADAPTER": self.adapter,
            "SNAKEPIT_CONCURRENCY": str(self.concurrency),
            "SNAKEPIT_PARENT_PID": str(os.getpid()),
            "PYTHONPATH": os.pathsep.join([WORKER_DIR, SAMPLE_ADAPTERS]),
            "PYTHONUNBUFFERED": "1",
        })
        env.update(self.extra_env)
        return env

    async def start(self, spawn: bool = True) -> None:
        """Listens on the socket and spawns the worker."""
        if self.transport == "tcp":
            self.server = await asyncio.start_server(self._on_conn, host="127.0.0.1", port=0)
            port = self.server.sockets[0].getsockname()[1]
            self.endpoint = f"tcp:127.0.0.1:{port}"
        else:
            self.server = await asyncio.start_unix_server(self._on_conn, path=self.sock_path)
            self.endpoint = f"unix:{self.sock_path}"
        if spawn:
            self.spawn()

    def spawn(self) -> None:
        with open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(
                [WORKER_PYTHON, "-m", "snakepit_worker"],
                env=self.env(), cwd=WORKER_DIR, stdin=subprocess.PIPE,
                stdout=err, stderr=err,
            )

    async def _on_conn(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await self._conns.put((reader, writer))

    async def accept(self, timeout: float = TIMEOUT) -> None:
        self.reader, self.writer = await asyncio.wait_for(self._conns.get(), timeout)
        self._read_task = asyncio.ensure_future(self._read_loop())

    async def _read_loop(self) -> None:
        assert self.reader is not None
        try:
            while True:
                frame = await P.read_frame(self.reader)
                if frame.type == P.LOG:
                    self.logs.append(frame.body)
                    self.log_frames.append(frame)
                elif frame.type == P.CALL and self.call_handler is not None:
                    self.calls.append(frame)
                    body = self.call_handler(frame.body.get("op"), frame.body)
                    self.send(P.CALL_RESULT, frame.id, body)
                else:
                    self._frames.append(frame)
                self._frames_changed.set()
        except asyncio.IncompleteReadError:
            pass
        except BaseException as exc:  # recorded for the test to see
            self.read_error = exc
        finally:
            self.closed = True
            self._frames_changed.set()

    async def handshake(self, welcome: Optional[Dict[str, Any]] = None) -> P.Frame:
        """Accepts the worker, checks HELLO, sends WELCOME; returns HELLO."""
        await self.accept()
        hello = await self.expect(types=(P.HELLO,))
        assert hello.id == 0
        assert hello.body["token"] == self.token
        body = {"protocol": 1, "node_id": "node-test", "heartbeat_ms": 1000,
                "max_frame_bytes": P.DEFAULT_MAX_FRAME_BYTES}
        body.update(welcome or {})
        self.send(P.WELCOME, 0, body)
        return hello

    async def aclose(self) -> None:
        self.kill()
        if self.writer is not None:
            self.writer.close()
        if self._read_task is not None:
            self._read_task.cancel()
            try:
                await self._read_task
            except BaseException:
                pass
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()

    def kill(self) -> None:
        """Kills the worker if it still runs, and reaps it (safe to call twice)."""
        if self.proc is not None:
            if self.proc.poll() is None:
                try:
                    self.proc.send_signal(signal.SIGKILL)
                except ProcessLookupError:
                    pass
            try:
                self.proc.wait(timeout=TIMEOUT)
            except subprocess.TimeoutExpired:
                pass
            if self.proc.stdin is not None:
                try:
                    self.proc.stdin.close()
                except OSError:
                    pass

    def cleanup(self) -> None:
        self.kill()
        shutil.rmtree(self.dir, ignore_errors=True)

    def stderr_text(self) -> str:
        try:
            with open(self.stderr_path, "r", encoding="utf-8", errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    # -- frames ------------------------------------------------------------

    def send(self, ftype: int, fid: int, body: Optional[Dict[str, Any]] = None) -> None:
        assert self.writer is not None
        self.writer.write(P.encode_frame(ftype, fid, body))

    def send_raw(self, data: bytes) -> None:
        assert self.writer is not None
        self.writer.write(data)

    async def expect(self, fid: Optional[int] = None, types: Optional[tuple] = None,
                     timeout: float = TIMEOUT) -> P.Frame:
        """Waits for (and removes) the first non-LOG frame matching id/types."""
        deadline = time.monotonic() + timeout
        while True:
            for i, f in enumerate(self._frames):
                if (fid is None or f.id == fid) and (types is None or f.type in types):
                    return self._frames.pop(i)
            if self.closed:
                raise AssertionError(
                    f"connection closed while waiting for id={fid} types={types}; "
                    f"pending={self._frames}; read_error={self.read_error!r}; "
                    f"stderr={self.stderr_text()!r}")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(
                    f"timed out waiting for id={fid} types={types}; pending={self._frames}; "
                    f"stderr={self.stderr_text()!r}")
            self._frames_changed.clear()
            try:
                await asyncio.wait_for(self._frames_changed.wait(), remaining)
            except asyncio.TimeoutError:
                pass

    def pending(self, fid: Optional[int] = None) -> List[P.Frame]:
        return [f for f in self._frames if fid is None or f.id == fid]

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = TIMEOUT,
                       what: str = "condition") -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"timed out waiting for {what}; stderr={self.stderr_text()!r}")
            self._frames_changed.clear()
            try:
                await asyncio.wait_for(self._frames_changed.wait(), 0.05)
            except asyncio.TimeoutError:
                pass

    async def request(self, fid: int, tool: str, args: Optional[Dict[str, Any]] = None,
                      **extra: Any) -> P.Frame:
        """Sends a unary REQUEST and returns its RESULT or ERROR."""
        body: Dict[str, Any] = {"tool": tool, "args": args or {}, "correlation_id": f"corr-{fid}",
                                "stream": False}
        body.update(extra)
        self.send(P.REQUEST, fid, body)
        return await self.expect(fid=fid, types=(P.RESULT, P.ERROR))

    async def wait_exit(self, timeout: float = TIMEOUT) -> int:
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while True:
            code = self.proc.poll()
            if code is not None:
                return code
            if time.monotonic() > deadline:
                raise AssertionError(f"worker did not exit; stderr={self.stderr_text()!r}")
            await asyncio.sleep(0.02)


class Harness:
    """pytest helper: runs an async test body against a fresh FakeNode, always cleaning up."""

    def __init__(self) -> None:
        self.nodes: List[FakeNode] = []

    def run(self, body: Callable[[FakeNode], Any], timeout: float = 60.0,
            **node_kwargs: Any) -> None:
        async def main() -> None:
            node = FakeNode(**node_kwargs)
            self.nodes.append(node)
            try:
                await asyncio.wait_for(body(node), timeout)
            finally:
                await node.aclose()

        asyncio.run(main())

    def cleanup(self) -> None:
        for node in self.nodes:
            node.cleanup()
