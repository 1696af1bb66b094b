#!/usr/bin/env python3
"""Quick Python-side comparison: worker no-op call vs raw_echo.py, same driver.

Usage: python3 py_roundtrip.py [--n 20000] [--warmup 2000] [--inflight 64] [--tool noop]

Plays the node with a blocking Unix socket (no asyncio, to keep the driver's
own cost low), and measures in the same run:
  raw     a REQUEST-sized frame echoed by raw_echo.py (the floor)
  worker  REQUEST noop (or --tool) -> RESULT through ``python3 -m snakepit_worker``
Both sequential (p50/p99/mean) and pipelined (--inflight outstanding).
Prints one JSON object. The product's real benchmark drives workers from the
Java node; this one is for working on the Python side alone.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
WORKER_DIR = os.path.dirname(HERE)
sys.path.insert(0, WORKER_DIR)

from snakepit_worker import protocol as P  # noqa: E402

TOKEN = "cd" * 32


def recv_exact(sock: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("peer closed")
        buf += chunk
    return bytes(buf)


def recv_frame(sock: socket.socket) -> bytes:
    (length,) = struct.unpack(">I", recv_exact(sock, 4))
    return recv_exact(sock, length)


def percentile(values, q):
    k = min(len(values) - 1, max(0, int(round(q * (len(values) - 1)))))
    return values[k]


def measure(sock: socket.socket, make_frame, n: int, warmup: int, inflight: int,
            skip_logs: bool) -> dict:
    def roundtrip(frame: bytes) -> None:
        sock.sendall(frame)
        while True:
            body = recv_frame(sock)
            if not (skip_logs and body[0] == P.LOG):
                return

    for i in range(warmup):
        roundtrip(make_frame(i + 1))
    clock = time.perf_counter_ns
    samples = []
    start = clock()
    for i in range(n):
        frame = make_frame((i % 1_000_000) + 1)
        t0 = clock()
        roundtrip(frame)
        samples.append(clock() - t0)
    elapsed = (clock() - start) / 1e9
    samples.sort()

    # Pipelined: keep `inflight` requests outstanding. Answers may come out
    # of order (concurrent tools), so an id is reused only once answered.
    frames = [make_frame(i + 1) for i in range(inflight)]
    start = clock()
    sent = 0
    received = 0
    for f in frames:
        sock.sendall(f)
        sent += 1
    while received < n:
        body = recv_frame(sock)
        if skip_logs and body[0] == P.LOG:
            continue
        received += 1
        if sent < n:
            sock.sendall(frames[int.from_bytes(body[1:5], "big") - 1])
            sent += 1
    pipelined = n / ((clock() - start) / 1e9)
    return {
        "p50_us": round(percentile(samples, 0.5) / 1000, 2),
        "p99_us": round(percentile(samples, 0.99) / 1000, 2),
        "mean_us": round(sum(samples) / len(samples) / 1000, 2),
        "calls_per_s": round(n / elapsed),
        "pipelined_calls_per_s": round(pipelined),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20000)
    parser.add_argument("--warmup", type=int, default=2000)
    parser.add_argument("--inflight", type=int, default=64)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--tool", default="noop",
                        help="demo tool to call, e.g. noop (thread pool) or async_noop (loop)")
    opts = parser.parse_args()

    tmp = tempfile.mkdtemp(prefix="sp-bench-")
    procs = []
    try:
        path = os.path.join(tmp, "s.sock")
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        server.bind(path)
        server.listen(4)

        def request(fid: int) -> bytes:
            return P.encode_frame(P.REQUEST, fid, {"tool": opts.tool, "args": {},
                                                   "correlation_id": "bench", "stream": False})

        # raw echo floor
        procs.append(subprocess.Popen([sys.executable, os.path.join(HERE, "raw_echo.py"), path]))
        raw_sock, _ = server.accept()
        raw = measure(raw_sock, request, opts.n, opts.warmup, opts.inflight, False)
        raw_sock.close()

        env = dict(os.environ,
                   SNAKEPIT_ENDPOINT=f"unix:{path}", SNAKEPIT_TOKEN=TOKEN,
                   SNAKEPIT_WORKER_ID="bench-1.1", SNAKEPIT_NODE_ID="bench",
                   SNAKEPIT_ADAPTER="snakepit_worker.demo:DemoAdapter",
                   SNAKEPIT_CONCURRENCY=str(opts.concurrency),
                   SNAKEPIT_PARENT_PID=str(os.getpid()),
                   PYTHONPATH=WORKER_DIR)
        procs.append(subprocess.Popen([sys.executable, "-m", "snakepit_worker"], env=env,
                                      cwd=WORKER_DIR, stdin=subprocess.PIPE))
        wsock, _ = server.accept()
        hello = recv_frame(wsock)
        assert hello[0] == P.HELLO
        wsock.sendall(P.encode_frame(P.WELCOME, 0, {"protocol": 1, "node_id": "bench",
                                                    "heartbeat_ms": 5000,
                                                    "max_frame_bytes": P.DEFAULT_MAX_FRAME_BYTES}))
        worker = measure(wsock, request, opts.n, opts.warmup, opts.inflight, True)
        wsock.close()
        print(json.dumps({
            "n": opts.n, "inflight": opts.inflight,
            "tool": opts.tool, "raw_echo": raw, "worker_noop": worker,
            "p50_ratio": round(worker["p50_us"] / raw["p50_us"], 2),
        }, indent=2))
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
            p.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
