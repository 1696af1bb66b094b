"""Sequential gRPC latency of snakepit.v1.Snakepit/Execute (tool noop), for tests/bench-http.sh.

    /usr/bin/python3 grpc_latency.py HOST:PORT [--n 5000] [--warmup 1000] [--tool noop]

Calls Execute one at a time on one channel, after a warm-up, and prints one
JSON line: {"target", "calls", "p50_us", "p99_us", "calls_per_s"}.
The same client measures the node and the grpcio peer, so its own cost is in both.
"""

import argparse
import json
import os
import sys
import time
from typing import List

import grpc

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import snakepit_stubs  # noqa: E402

pb2, pb2_grpc = snakepit_stubs.load()


def percentile(sorted_ns: List[int], p: float) -> float:
    """Nearest-rank percentile, in µs."""
    i = min(len(sorted_ns) - 1, max(0, int(round(p / 100.0 * len(sorted_ns))) - 1))
    return sorted_ns[i] / 1000.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("target")
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--warmup", type=int, default=1000)
    parser.add_argument("--tool", default="noop")
    opts = parser.parse_args()
    with grpc.insecure_channel(opts.target) as channel:
        grpc.channel_ready_future(channel).result(timeout=30)
        execute = pb2_grpc.SnakepitStub(channel).Execute
        request = pb2.ExecuteRequest(tool=opts.tool)
        for _ in range(opts.warmup):
            execute(request, timeout=30)
        samples = []
        start = time.perf_counter_ns()
        for _ in range(opts.n):
            t0 = time.perf_counter_ns()
            execute(request, timeout=30)
            samples.append(time.perf_counter_ns() - t0)
        elapsed_s = (time.perf_counter_ns() - start) / 1e9
    samples.sort()
    print(json.dumps({"target": opts.target, "calls": opts.n, "p50_us": round(percentile(samples, 50), 1),
                      "p99_us": round(percentile(samples, 99), 1), "calls_per_s": round(opts.n / elapsed_s, 1)}))


if __name__ == "__main__":
    main()
