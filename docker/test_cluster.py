#!/usr/bin/env python3
"""The checks of ``docker/test-cluster.sh``: a three-node Compose cluster of the image, end to end.

Run through ``docker/test-cluster.sh``, which builds the images first. Each step prints what it
found; any check that does not hold ends the run with status 1. Whatever happens, the Compose
project is taken down with its volumes, and the test's images and files are removed.

The test reaches the containers only through the ports Compose publishes on 127.0.0.1. Its client
plays the part of a load balancer: it sends calls to the nodes "in rotation", takes a node out of
rotation before stopping it (and waits for the calls it has in flight there), puts it back once its
health check passes, and retries, on another node, a call refused with nothing done: a refused
connection, or 503 ``starting``/``shutting_down`` (docs/http-api.md). Any other failure counts.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = ROOT / "docker" / "compose.yaml"
EXAMPLE = ROOT / "docker" / "examples" / "custom-tools"
NODES = ("n1", "n2", "n3")
# What a caller may retry elsewhere: the node said it did nothing (docs/http-api.md).
RETRYABLE_CODES = {"starting", "shutting_down"}
KILL_SERVED_WITHIN_S = 10.0
# Debian's grpcio (python3-grpcio) runs under the system Python; the gRPC check is skipped without it.
GRPC_PYTHON = "/usr/bin/python3"
# Over each node's published gRPC port: the health service answers SERVING (field 1 = 1) without a token, and
# a call without one is refused UNAUTHENTICATED. Raw bytes, so that no generated code is needed.
GRPC_CHECK = """
import grpc, sys
with grpc.insecure_channel("127.0.0.1:" + sys.argv[1]) as ch:
    same = dict(request_serializer=lambda b: b, response_deserializer=lambda b: b)
    health = ch.unary_unary("/grpc.health.v1.Health/Check", **same)(b"", timeout=10)
    assert health == b"\\x08\\x01", health
    try:
        ch.unary_unary("/snakepit.v1.Snakepit/GetSession", **same)(b"\\x0a\\x01s", timeout=10)
        sys.exit("GetSession without a token was answered")
    except grpc.RpcError as e:
        assert e.code() == grpc.StatusCode.UNAUTHENTICATED, e
"""


class CheckFailed(Exception):
    """A check of the run that did not hold."""


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def check(condition: bool, message: str) -> None:
    if not condition:
        raise CheckFailed(message)


def wait_until(what: str, timeout_s: float, probe: Callable[[], Any]) -> Any:
    """Polls ``probe`` until it returns something truthy; fails naming ``what`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    last_error: Optional[BaseException] = None
    while time.monotonic() < deadline:
        try:
            value = probe()
            if value:
                return value
        except (OSError, ValueError, CheckFailed) as e:
            last_error = e
        time.sleep(0.5)
    raise CheckFailed(f"{what}: not within {timeout_s:.0f} s" + (f" (last error: {last_error})" if last_error else ""))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(cmd: List[str], env: Optional[Dict[str, str]] = None, check_status: bool = True,
        timeout: float = 600) -> subprocess.CompletedProcess:
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    if check_status and result.returncode != 0:
        raise CheckFailed(f"{' '.join(cmd)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
    return result


def compose_command() -> List[str]:
    if subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    raise CheckFailed("neither 'docker compose' nor 'docker-compose' is installed")


class Answer:
    def __init__(self, status: int, body: Any, node: str):
        self.status = status
        self.body = body
        self.node = node

    @property
    def code(self) -> Optional[str]:
        if isinstance(self.body, dict) and isinstance(self.body.get("error"), dict):
            return self.body["error"].get("code")
        return None

    def __repr__(self) -> str:
        return f"{self.status} from {self.node}: {json.dumps(self.body)[:300]}"


class Cluster:
    """The Compose project, and an HTTP client of its nodes through the published ports."""

    def __init__(self, workdir: Path, key: str, keys_file: Path, prometheus_image: str):
        self.project = f"snakepit-test-{os.getpid()}"
        self.compose = compose_command()
        self.key = key
        self.ports = {n: free_port() for n in NODES}
        self.prometheus_port = free_port()
        self.env = dict(os.environ)
        self.env.update({
            "SNAKEPIT_KEYS_FILE": str(keys_file),
            "PROMETHEUS_IMAGE": prometheus_image,
            "PROMETHEUS_PORT": str(self.prometheus_port),
        })
        self.grpc_ports = {n: free_port() for n in NODES}
        for n in NODES:
            self.env[f"{n.upper()}_HTTP_PORT"] = str(self.ports[n])
            self.env[f"{n.upper()}_GRPC_PORT"] = str(self.grpc_ports[n])
        # Two workers a node: three nodes share this machine's cores.
        self.override = workdir / "compose.test.yaml"
        self.override.write_text("services:\n" + "".join(
            f"  {n}:\n    environment:\n      SNAKEPIT_POOLS__DEFAULT__SIZE: \"2\"\n" for n in NODES))
        self.in_rotation = set(NODES)
        self.in_flight = {n: 0 for n in NODES}
        self.lock = threading.Lock()
        self.rr = 0

    def compose_run(self, *args: str, image: Optional[str] = None, timeout: float = 600) -> str:
        env = dict(self.env)
        if image:
            env["SNAKEPIT_IMAGE"] = image
        cmd = self.compose + ["-p", self.project, "-f", str(COMPOSE_FILE), "-f", str(self.override), *args]
        return run(cmd, env=env, timeout=timeout).stdout

    def container(self, node: str) -> str:
        cid = self.compose_run("ps", "-a", "-q", node).strip()
        check(bool(cid), f"no container for {node}")
        return cid

    def inspect(self, node: str, fmt: str) -> str:
        return run(["docker", "inspect", "-f", fmt, self.container(node)]).stdout.strip()

    # -- HTTP -------------------------------------------------------------------------------------

    def http(self, node: str, method: str, path: str, body: Any = None, timeout: float = 30) -> Answer:
        data = None if body is None else json.dumps(body).encode("utf-8")
        request = urllib.request.Request(f"http://127.0.0.1:{self.ports[node]}{path}", data=data, method=method)
        request.add_header("Authorization", f"Bearer {self.key}")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=timeout) as r:
                raw = r.read()
                return Answer(r.status, json.loads(raw) if raw else None, node)
        except urllib.error.HTTPError as e:
            raw = e.read()
            try:
                parsed = json.loads(raw) if raw else None
            except ValueError:
                parsed = raw.decode("utf-8", "replace")
            return Answer(e.code, parsed, node)

    def call(self, method: str, path: str, body: Any = None, stats: Optional["LoadStats"] = None) -> Answer:
        """Sends to the next node in rotation; retries elsewhere what was refused with nothing done."""
        deadline = time.monotonic() + 60
        while True:
            with self.lock:
                nodes = sorted(self.in_rotation)
                check(bool(nodes), "no node in rotation")
                node = nodes[self.rr % len(nodes)]
                self.rr += 1
                self.in_flight[node] += 1
            try:
                answer = self.http(node, method, path, body)
                if not (answer.status == 503 and answer.code in RETRYABLE_CODES):
                    return answer
                refusal = repr(answer)
            except ConnectionRefusedError as e:
                refusal = f"{node}: {e}"
            finally:
                with self.lock:
                    self.in_flight[node] -= 1
            if stats:
                stats.count("retried")
            if time.monotonic() > deadline:
                raise CheckFailed(f"{method} {path}: refused for 60 s, last: {refusal}")
            time.sleep(0.1)

    def take_out_of_rotation(self, node: str) -> None:
        with self.lock:
            self.in_rotation.discard(node)
        wait_until(f"the calls in flight to {node} to end", 120, lambda: self.in_flight[node] == 0)

    def put_in_rotation(self, node: str) -> None:
        with self.lock:
            self.in_rotation.add(node)

    # -- cluster state ----------------------------------------------------------------------------

    def healthy(self, node: str) -> bool:
        return self.inspect(node, "{{.State.Health.Status}}") == "healthy"

    def ring(self, node: str) -> List[str]:
        answer = self.http(node, "GET", "/v1/cluster", timeout=5)
        return sorted(answer.body.get("ring", [])) if answer.status == 200 else []

    def wait_whole(self, nodes: Tuple[str, ...] = NODES, timeout_s: float = 180) -> None:
        """Every node healthy (its /ready answers 200) and every node's ring holding all of them."""
        for n in nodes:
            wait_until(f"{n} healthy", timeout_s, lambda n=n: self.healthy(n))
        for n in nodes:
            wait_until(f"{n}'s ring to hold {list(nodes)}", timeout_s, lambda n=n: self.ring(n) == sorted(nodes))

    def owner(self, session: str, via: str) -> Optional[str]:
        answer = self.http(via, "GET", f"/v1/sessions/{session}")
        check(answer.status == 200, f"GET session {session}: {answer!r}")
        return answer.body.get("owner")

    def execute(self, node: str, tool: str, args: Optional[Dict[str, Any]] = None,
                session: Optional[str] = None) -> Answer:
        path = f"/v1/sessions/{session}/execute" if session else "/v1/execute"
        return self.http(node, "POST", path, {"tool": tool, "args": args or {}})


class LoadStats:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.counts: Dict[str, int] = {}
        self.failures: List[str] = []

    def count(self, what: str) -> None:
        with self.lock:
            self.counts[what] = self.counts.get(what, 0) + 1

    def fail(self, what: str) -> None:
        with self.lock:
            self.failures.append(what)


class SteadyLoad:
    """Calls, counter increments and register writes on a set of sessions, from several threads.

    Each thread writes its own register in each session with increasing numbers, so the last value
    it had acknowledged is what the register must hold at the end; every acknowledged increment
    must be in its counter.
    """

    def __init__(self, cluster: Cluster, sessions: List[str], threads: int = 4):
        self.cluster = cluster
        self.sessions = sessions
        self.stats = LoadStats()
        self.stop = threading.Event()
        self.increments = {s: 0 for s in sessions}
        self.baseline: Dict[str, int] = {}
        self.registers: Dict[Tuple[str, int], int] = {}
        self.acked_lock = threading.Lock()
        self.threads = [threading.Thread(target=self.loop, args=(t,), daemon=True) for t in range(threads)]

    def start(self) -> None:
        # The counters' values before the load: what the increments add to.
        self.baseline = {}
        for s in self.sessions:
            a = self.cluster.call("GET", f"/v1/sessions/{s}/variables")
            check(a.status == 200, f"variables of {s}: {a!r}")
            self.baseline[s] = a.body["variables"].get("c", 0)
        for t in self.threads:
            t.start()

    def finish(self) -> LoadStats:
        self.stop.set()
        for t in self.threads:
            t.join(120)
        return self.stats

    def loop(self, thread: int) -> None:
        rng = random.Random(thread)
        seq = 0
        while not self.stop.is_set():
            session = rng.choice(self.sessions)
            op = rng.choice(("call", "session_call", "increment", "register"))
            try:
                if op == "call":
                    a = self.cluster.call("POST", "/v1/execute", {"tool": "greet", "args": {"name": "load"}}, self.stats)
                    ok = a.status == 200 and a.body.get("result") == "Hello, load!"
                elif op == "session_call":
                    a = self.cluster.call("POST", f"/v1/sessions/{session}/execute",
                                          {"tool": "version", "args": {}}, self.stats)
                    ok = a.status == 200
                elif op == "increment":
                    a = self.cluster.call("POST", f"/v1/sessions/{session}/variables/c/increment", {"by": 1},
                                          self.stats)
                    ok = a.status == 200
                    if ok:
                        with self.acked_lock:
                            self.increments[session] += 1
                else:
                    seq += 1
                    a = self.cluster.call("PUT", f"/v1/sessions/{session}/variables/r{thread}", {"value": seq},
                                          self.stats)
                    ok = a.status == 200
                    if ok:
                        with self.acked_lock:
                            self.registers[(session, thread)] = seq
                self.stats.count(op)
                if not ok:
                    self.stats.fail(f"{op}: {a!r}")
            except (OSError, CheckFailed) as e:
                self.stats.fail(f"{op}: {e}")

    def verify(self, via: str) -> str:
        """Fails unless every acknowledged write is there; says what was checked."""
        lost = []
        for s in self.sessions:
            answer = self.cluster.http(via, "GET", f"/v1/sessions/{s}/variables")
            check(answer.status == 200, f"variables of {s}: {answer!r}")
            variables = answer.body["variables"]
            expected = self.baseline[s] + self.increments[s]
            if variables.get("c", 0) != expected:
                lost.append(f"{s}.c = {variables.get('c')}, not {expected}: {self.baseline[s]} before, "
                            f"{self.increments[s]} increments acknowledged")
        for (s, thread), seq in self.registers.items():
            answer = self.cluster.http(via, "GET", f"/v1/sessions/{s}/variables/r{thread}")
            if answer.status != 200 or answer.body.get("value") != seq:
                lost.append(f"{s}.r{thread}: {answer!r}, {seq} acknowledged last")
        check(not lost, f"{len(lost)} acknowledged writes lost: {lost[:10]}")
        return (f"all {sum(self.increments.values())} acknowledged increments counted, and each of "
                f"{len(self.registers)} registers holding the last value acknowledged")


# -- the steps ------------------------------------------------------------------------------------


def step_images(workdir: Path, base_image: str, images: List[str]) -> Tuple[str, str]:
    """Builds the custom-tools example twice, FROM the node image: v1, and v2 with a changed tool.

    Appends each image to ``images`` as soon as it exists, for the clean-up.
    """
    for version in ("1", "2"):
        context = workdir / f"tools-v{version}"
        shutil.copytree(EXAMPLE, context)
        init = context / "my_tools" / "__init__.py"
        init.write_text(init.read_text().replace('VERSION = "1"', f'VERSION = "{version}"'))
        tag = f"snakepit-test-tools:{os.getpid()}-v{version}"
        images.append(tag)
        run(["docker", "build", "-q", "--build-arg", f"SNAKEPIT_IMAGE={base_image}", "-t", tag, str(context)])
    log(f"built {images[0]} and {images[1]} from docker/examples/custom-tools")
    return images[0], images[1]


def step_keys(workdir: Path, image: str) -> Tuple[str, Path]:
    """An admin key made by the image's own CLI, in a keys file only the node's user (10001) reads."""
    keys_dir = workdir / "keys"
    keys_dir.mkdir()
    out = run(["docker", "run", "--rm", "--user", "0", "-v", f"{keys_dir}:/keys", image,
               "keys", "add", "test", "--role", "admin", "--file", "/keys/keys.json"]).stdout
    key = next((line.strip() for line in out.splitlines() if line.strip().startswith("sp_")), None)
    check(key is not None, f"keys add printed no key: {out}")
    keys_file = keys_dir / "keys.json"
    os.chown(keys_file, 10001, 10001)
    check(oct(keys_file.stat().st_mode & 0o777) == "0o600", "the keys file is not 0600")
    return key, keys_file


def step_start(cluster: Cluster, image: str) -> None:
    cluster.compose_run("up", "-d", image=image)
    cluster.wait_whole()
    for n in NODES:
        check(cluster.inspect(n, "{{.HostConfig.ReadonlyRootfs}}") == "true", f"{n}: root filesystem not read-only")
        uid = run(["docker", "exec", cluster.container(n), "id", "-u"]).stdout.strip()
        check(uid == "10001", f"{n} runs as uid {uid}, not 10001")
        tools = run(["docker", "exec", cluster.container(n), "sh", "-c",
                     "for t in mvn javac gcc cc pip pip3 apt-get; do command -v $t; done; true"]).stdout.split()
        check(tools in ([], ["/usr/bin/apt-get"]), f"{n} has build tools: {tools}")
        # Unauthenticated callers are refused: the image ships with authentication on.
        request = urllib.request.Request(f"http://127.0.0.1:{cluster.ports[n]}/v1/pools")
        try:
            urllib.request.urlopen(request, timeout=10)
            raise CheckFailed(f"{n} answered /v1/pools without a key")
        except urllib.error.HTTPError as e:
            check(e.code == 401, f"{n}: /v1/pools without a key answered {e.code}")
    log("3 nodes healthy, one ring; read-only root, uid 10001, no build tools, keys required")
    step_grpc(cluster)


def step_calls_and_sessions(cluster: Cluster, count: int, prefix: str) -> List[str]:
    """Creates sessions through every node, writes in each through another, calls in each through a third."""
    sessions = []
    for i in range(count):
        via = NODES[i % 3]
        s = f"{prefix}-{i}"
        a = cluster.http(via, "POST", "/v1/sessions", {"id": s})
        check(a.status in (200, 201), f"create {s} on {via}: {a!r}")
        a = cluster.http(NODES[(i + 1) % 3], "POST", f"/v1/sessions/{s}/variables/c/increment", {"by": 5})
        check(a.status == 200 and a.body["value"] == 5, f"increment in {s}: {a!r}")
        a = cluster.execute(NODES[(i + 2) % 3], "note", {"text": f"{s}-a"}, session=s)
        check(a.status == 200 and a.body["result"] == 1, f"note in {s}: {a!r}")
        a = cluster.execute(NODES[i % 3], "note", {"text": f"{s}-b"}, session=s)
        check(a.status == 200 and a.body["result"] == 2, f"second note in {s}: {a!r}")
        sessions.append(s)
    for n in NODES:
        a = cluster.execute(n, "greet", {"name": n})
        check(a.status == 200 and a.body["result"] == f"Hello, {n}!", f"greet on {n}: {a!r}")
    log(f"{count} sessions made, written and called through all three nodes")
    return sessions


def step_grpc(cluster: Cluster) -> None:
    has_grpc = os.path.exists(GRPC_PYTHON) and run([GRPC_PYTHON, "-c", "import grpc"], check_status=False).returncode == 0
    if not has_grpc:
        log(f"gRPC check SKIPPED: {GRPC_PYTHON} has no grpc module (apt-get install python3-grpcio)")
        return
    for n in NODES:
        out = run([GRPC_PYTHON, "-c", GRPC_CHECK, str(cluster.grpc_ports[n])], check_status=False, timeout=60)
        check(out.returncode == 0, f"gRPC on {n}: {out.stdout}{out.stderr}")
    log("gRPC on every node: health SERVING, a call without a token UNAUTHENTICATED")


def step_prometheus(cluster: Cluster) -> None:
    def targets_up() -> bool:
        url = f"http://127.0.0.1:{cluster.prometheus_port}/api/v1/targets"
        with urllib.request.urlopen(url, timeout=5) as r:
            active = json.loads(r.read())["data"]["activeTargets"]
        up = sorted(t["labels"]["instance"] for t in active if t["labels"]["job"] == "snakepit" and t["health"] == "up")
        return up == [f"{n}:8080" for n in NODES]
    wait_until("Prometheus scraping all three nodes", 120, targets_up)
    with urllib.request.urlopen(f"http://127.0.0.1:{cluster.prometheus_port}/api/v1/rules", timeout=5) as r:
        groups = json.loads(r.read())["data"]["groups"]
    rules = [rule["name"] for g in groups if g["name"] == "snakepit" for rule in g["rules"]]
    check(len(rules) > 0, f"Prometheus has not loaded the alert rules of docker/prometheus/alerts.yaml: {groups}")
    log(f"Prometheus scrapes n1, n2 and n3 (all up) and has the {len(rules)} alert rules of group snakepit")


def busiest_owner(cluster: Cluster, sessions: List[str], via: str) -> Tuple[str, List[str]]:
    """The node that owns the most of ``sessions`` (as ``via`` sees it), and the sessions it owns."""
    by_node: Dict[str, List[str]] = {}
    for s in sessions:
        by_node.setdefault(cluster.owner(s, via) or "none", []).append(s)
    node = max(NODES, key=lambda n: len(by_node.get(n, [])))
    check(len(by_node.get(node, [])) > 0, f"no session owned by any node: {by_node}")
    return node, by_node[node]


def step_kill(cluster: Cluster, sessions: List[str]) -> str:
    victim, mine = busiest_owner(cluster, sessions, "n1")
    survivors = [n for n in NODES if n != victim]
    cluster.take_out_of_rotation(victim)
    run(["docker", "kill", cluster.container(victim)])
    killed_at = time.monotonic()
    served_at: Dict[str, float] = {}
    errors: Dict[str, str] = {}

    def serve(i: int, s: str) -> None:
        # Each session on its own thread, so that one slow answer delays no other session's figure.
        while time.monotonic() - killed_at < 60:
            try:
                a = cluster.http(survivors[i % 2], "GET", f"/v1/sessions/{s}/variables", timeout=30)
                b = cluster.execute(survivors[(i + 1) % 2], "version", session=s) if a.status == 200 else a
            except OSError as e:
                errors[s] = str(e)
                continue
            if a.status == 200 and b.status == 200:
                served_at[s] = time.monotonic() - killed_at
                errors.pop(s, None)
                if a.body["variables"].get("c") != 5:
                    errors[s] = f"lost its counter after the kill: {a!r}"
                return
            errors[s] = repr(b)
            time.sleep(0.2)

    threads = [threading.Thread(target=serve, args=(i, s), daemon=True) for i, s in enumerate(mine)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(90)
    pending = [s for s in mine if s not in served_at]
    check(not [e for s, e in errors.items() if s in served_at], f"sessions served without their data: {errors}")
    check(not pending, f"{len(pending)} of {len(mine)} sessions of {victim} not served 60 s after the kill; "
          f"last answers: {[errors.get(s) for s in pending[:5]]}")
    slowest = max(served_at.values())
    log(f"docker kill {victim}, owner of {len(mine)} of {len(sessions)} sessions: all served by "
        f"{survivors} with their data, the last {slowest:.1f} s after the kill")
    check(slowest <= KILL_SERVED_WITHIN_S, f"the last session was served {slowest:.1f} s after the kill, "
          f"over {KILL_SERVED_WITHIN_S:.0f} s")
    return victim


def step_restart(cluster: Cluster, node: str, image: str) -> None:
    cluster.compose_run("up", "-d", "--no-deps", node, image=image)
    cluster.wait_whole()
    cluster.put_in_rotation(node)
    log(f"{node} restarted on its volume: healthy, and back in every node's ring")


def step_stop(cluster: Cluster, sessions: List[str]) -> str:
    node, mine = busiest_owner(cluster, sessions, "n2")
    cluster.take_out_of_rotation(node)
    started = time.monotonic()
    run(["docker", "stop", "-t", "90", cluster.container(node)], timeout=120)
    took = time.monotonic() - started
    status = cluster.inspect(node, "{{.State.ExitCode}}")
    check(status == "0", f"{node} exited {status} after docker stop (137: killed at the end of the grace period)")
    out = run(["docker", "logs", cluster.container(node)])
    check("draining" in out.stdout + out.stderr, f"{node}'s log shows no drain")
    survivors = [n for n in NODES if n != node]
    for i, s in enumerate(mine):
        a = cluster.execute(survivors[i % 2], "notes", session=s)
        check(a.status == 200 and a.body["result"] == [f"{s}-a", f"{s}-b"],
              f"{s}'s Python-side notes after {node} drained: {a!r}")
    log(f"docker stop {node}: drained and exited 0 in {took:.1f} s (grace 90 s); the Python-side notes of its "
        f"{len(mine)} sessions answered by {survivors}")
    return node


def step_rolling_upgrade(cluster: Cluster, sessions: List[str], new_image: str) -> None:
    load = SteadyLoad(cluster, sessions)
    load.start()
    try:
        wait_until("the load to get going", 60, lambda: sum(load.stats.counts.values()) >= 50)
        for node in NODES:
            cluster.take_out_of_rotation(node)
            started = time.monotonic()
            cluster.compose_run("up", "-d", "--no-deps", node, image=new_image, timeout=300)
            cluster.wait_whole()
            answer = cluster.execute(node, "version")
            check(answer.status == 200, f"version on the new {node}: {answer!r}")
            cluster.put_in_rotation(node)
            log(f"{node} replaced by {new_image} in {time.monotonic() - started:.1f} s under load "
                f"({sum(load.stats.counts.values())} operations so far)")
    finally:
        stats = load.finish()
    for n in NODES:
        image = cluster.inspect(n, "{{.Config.Image}}")
        check(image == new_image, f"{n} runs {image}, not {new_image}")
    versions = {cluster.execute(n, "version", session=sessions[i]).body["result"] for i, n in enumerate(NODES)}
    check(versions == {"2"}, f"the tools answer versions {versions}, not only 2")
    check(not stats.failures, f"{len(stats.failures)} failed calls during the upgrade: {stats.failures[:10]}")
    checked = load.verify("n3")
    log(f"rolling upgrade under load: {stats.counts}, 0 failed; {checked} "
        f"(retried after a refusal with nothing done: {stats.counts.get('retried', 0)})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", default="snakepit:dev", help="the node image (docker/build.sh)")
    parser.add_argument("--prometheus-image", default="prom/prometheus:v2.53.1")
    parser.add_argument("--sessions", type=int, default=60)
    options = parser.parse_args()
    # timeout(1) and CI end a run with SIGTERM: leave through the clean-up below, not around it.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))

    workdir = Path(tempfile.mkdtemp(prefix="snakepit-compose-"))
    cluster: Optional[Cluster] = None
    images: List[str] = []
    started = time.monotonic()
    try:
        v1, v2 = step_images(workdir, options.image, images)
        key, keys_file = step_keys(workdir, options.image)
        cluster = Cluster(workdir, key, keys_file, options.prometheus_image)
        step_start(cluster, v1)
        first = step_calls_and_sessions(cluster, options.sessions, "kill")
        step_prometheus(cluster)
        killed = step_kill(cluster, first)
        step_restart(cluster, killed, v1)
        second = step_calls_and_sessions(cluster, options.sessions, "stop")
        stopped = step_stop(cluster, second)
        step_restart(cluster, stopped, v1)
        step_rolling_upgrade(cluster, first[:12] + second[:12], v2)
        log(f"PASS in {time.monotonic() - started:.0f} s")
        return 0
    except CheckFailed as e:
        log(f"FAIL: {e}")
        if cluster is not None:
            for n in NODES:
                try:
                    out = run(["docker", "logs", "--tail", "40", cluster.container(n)], check_status=False)
                    print(f"--- last lines of {n}'s log\n{out.stdout}{out.stderr}", flush=True)
                except (CheckFailed, subprocess.SubprocessError):
                    pass
        return 1
    finally:
        if cluster is not None:
            cluster.compose_run("down", "-v", "--remove-orphans", "-t", "10")
        for image in images:
            run(["docker", "rmi", "-f", image], check_status=False)
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
