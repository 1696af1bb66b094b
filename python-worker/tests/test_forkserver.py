"""The forkserver with real processes: its control protocol, fork and spawn
modes, the fallbacks, containment of what workers leave behind, and the
limits' error codes. Workers here cannot reach a node (or get no WELCOME from
it), which is all these tests need."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import tempfile
import time
from typing import Any, Dict, Iterator, List, Optional

import pytest

from fakenode import SAMPLE_ADAPTERS, WORKER_DIR, WORKER_PYTHON
from snakepit_worker import containment, encoding

DEADLINE_S = 20.0


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
        return stat[stat.rfind(b")") + 2:][:1] != b"Z"
    except OSError:
        return False


def _until(what: str, predicate: Any) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.01)
    raise AssertionError(f"timed out waiting for: {what}")


class Forkserver:
    """A forkserver process driven as the node drives it."""

    def __init__(self, tmp: str, adapter: str, mode: str = "fork", endpoint: Optional[str] = None,
                 extra: Optional[Dict[str, str]] = None) -> None:
        self.tmp = tmp
        env = dict(os.environ)
        env.update({
            "PYTHONPATH": os.pathsep.join([WORKER_DIR, SAMPLE_ADAPTERS]),
            "SNAKEPIT_ENDPOINT": endpoint or f"unix:{tmp}/nobody.sock",
            "SNAKEPIT_TOKEN": "t" * 64, "SNAKEPIT_NODE_ID": "n", "SNAKEPIT_ADAPTER": adapter,
            "SNAKEPIT_PARENT_PID": str(os.getpid()), "SNAKEPIT_FORKSERVER_MODE": mode,
        })
        env.update(extra or {})
        self.proc = subprocess.Popen([WORKER_PYTHON, "-m", "snakepit_worker.forkserver"], env=env,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=open(os.path.join(tmp, "forkserver.log"), "ab"))
        self.ready = self.event()

    def event(self) -> Dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert line, f"the forkserver exited: {self.log()}"
        return json.loads(line)

    def start(self, wid: str) -> Dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps({"op": "start", "id": wid,
                                          "log": os.path.join(self.tmp, wid + ".log")}).encode() + b"\n")
        self.proc.stdin.flush()
        return self.event()

    def log(self) -> str:
        with open(os.path.join(self.tmp, "forkserver.log"), encoding="utf-8", errors="replace") as f:
            return f.read()

    def close(self) -> int:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        return self.proc.wait(DEADLINE_S)


@pytest.fixture
def tmp() -> Iterator[str]:
    d = tempfile.mkdtemp(prefix="sp-fs-")
    yield d
    for name in os.listdir(d):
        os.unlink(os.path.join(d, name))
    os.rmdir(d)


@pytest.fixture
def servers() -> Iterator[List[Forkserver]]:
    made: List[Forkserver] = []
    yield made
    for fs in made:
        if fs.proc.poll() is None:
            fs.proc.kill()
            fs.proc.wait()


def test_forks_a_worker_that_runs_as_a_spawned_one(tmp: str, servers: List[Forkserver]) -> None:
    fs = Forkserver(tmp, "snakepit_worker.demo:DemoAdapter",
                    extra={"SNAKEPIT_PRELOAD": "decimal"})
    servers.append(fs)
    assert fs.ready["event"] == "ready" and fs.ready["mode"] == "fork", fs.ready
    assert os.path.isabs(fs.ready["python"]) and fs.ready["preloaded"] == ["decimal"]
    started = fs.start("w1")
    assert started["event"] == "started" and started["id"] == "w1"
    exited = fs.event()
    # No node to connect to: the worker got as far as connecting, and exited with EXIT_CONNECT.
    assert exited == {"event": "exited", "id": "w1", "pid": started["pid"], "status": 6}
    with open(os.path.join(tmp, "w1.log"), encoding="utf-8") as f:
        assert "cannot connect to the node" in f.read()
    assert fs.close() == 0


def test_spawn_mode_and_the_fallbacks(tmp: str, servers: List[Forkserver]) -> None:
    off = Forkserver(tmp, "snakepit_worker.demo:DemoAdapter", mode="spawn")
    servers.append(off)
    assert off.ready["mode"] == "spawn" and "off" in off.ready["reason"]
    assert off.start("w1")["event"] == "started"
    assert off.event()["status"] == 6
    threads = Forkserver(tmp, "thread_at_import_adapter:ThreadAtImport")
    servers.append(threads)
    assert threads.ready["mode"] == "spawn" and "started-at-import" in threads.ready["reason"]
    unsafe = Forkserver(tmp, "not_fork_safe_adapter:NotForkSafe")
    servers.append(unsafe)
    assert unsafe.ready["mode"] == "spawn" and "not fork-safe" in unsafe.ready["reason"]
    broken = Forkserver(tmp, "no_such_module_anywhere:Adapter")
    servers.append(broken)
    assert broken.ready["mode"] == "spawn" and "failed to import" in broken.ready["reason"]


def test_a_preload_that_does_not_import_fails_the_forkserver(tmp: str, servers: List[Forkserver]) -> None:
    env = dict(os.environ, PYTHONPATH=WORKER_DIR, SNAKEPIT_ADAPTER="snakepit_worker.demo:DemoAdapter",
               SNAKEPIT_PRELOAD="no_such_module_to_preload")
    out = subprocess.run([WORKER_PYTHON, "-m", "snakepit_worker.forkserver"], env=env, input=b"",
                         capture_output=True, timeout=DEADLINE_S)
    assert out.returncode == 4
    event = json.loads(out.stdout.splitlines()[0])
    assert event["event"] == "failed" and "no_such_module_to_preload" in event["error"]


@pytest.mark.parametrize("mode", ["fork", "spawn"])
def test_what_a_worker_left_behind_ends_with_it(tmp: str, servers: List[Forkserver], mode: str) -> None:
    pid_file = os.path.join(tmp, "daemon.pid")
    fs = Forkserver(tmp, "daemon_in_setup", mode=mode, extra={"DAEMON_PID_FILE": pid_file})
    servers.append(fs)
    fs.start("w1")
    assert fs.event()["event"] == "exited"
    with open(pid_file, encoding="ascii") as f:
        daemon = int(f.read())
    _until("the worker's double-forked daemon ends with it", lambda: not _alive(daemon))
    assert fs.close() == 0


def test_closing_the_control_pipe_ends_every_worker_and_what_it_started(
        tmp: str, servers: List[Forkserver]) -> None:
    # A node that accepts connections and never says WELCOME: the worker waits, alive.
    listener = socket.socket(socket.AF_UNIX)
    path = os.path.join(tmp, "silent.sock")
    listener.bind(path)
    listener.listen(8)
    try:
        pid_file = os.path.join(tmp, "daemon.pid")
        fs = Forkserver(tmp, "daemon_in_setup", endpoint=f"unix:{path}",
                        extra={"DAEMON_PID_FILE": pid_file})
        servers.append(fs)
        worker = fs.start("w1")["pid"]
        _until("the daemon is started", lambda: os.path.exists(pid_file))
        with open(pid_file, encoding="ascii") as f:
            daemon = int(f.read())
        assert _alive(worker) and _alive(daemon)
        assert fs.close() == 0
        assert not _alive(worker)
        _until("the daemon ends with the forkserver", lambda: not _alive(daemon))
    finally:
        listener.close()
        os.unlink(path)


def test_descendants_and_environ_from_proc() -> None:
    child = subprocess.Popen(["sh", "-c", "sleep 30 & wait"], env=dict(os.environ, MARK="x1"))
    try:
        _until("the shell's sleep", lambda: len(containment.descendants(child.pid)) == 1)
        assert set(containment.descendants(os.getpid())) >= {child.pid}
        assert containment.environ_value(child.pid, "MARK") == "x1"
        assert containment.kill_descendants(child.pid) == 1
    finally:
        child.kill()
        child.wait()


def test_a_breach_of_a_set_limit_is_worker_limit_exceeded(monkeypatch: pytest.MonkeyPatch) -> None:
    assert encoding.breached_limit(MemoryError()) is None  # no limit set: a tool's own error
    monkeypatch.setattr(encoding, "_MEMORY_LIMITED", True)
    monkeypatch.setattr(encoding, "_OPEN_FILES_LIMITED", True)
    assert encoding.breached_limit(MemoryError()) == "memory"
    assert encoding.breached_limit(OSError(24, "Too many open files")) == "open_files"
    assert encoding.breached_limit(OSError(2, "No such file")) is None
    assert encoding.breached_limit(ValueError()) is None
