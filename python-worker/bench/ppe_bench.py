#!/usr/bin/env python3
"""Round trip of Python's own concurrent.futures.ProcessPoolExecutor, for comparison.

Usage: python3 ppe_bench.py [--n 20000] [--warmup 2000] [--inflight 64] [--workers 1]

Prints one JSON object:
  p50_us, p99_us, mean_us, calls_per_s   sequential submit().result() of a no-op
  pipelined_calls_per_s                  throughput with --inflight calls outstanding
"""

import argparse
import concurrent.futures
import json
import time


def noop() -> None:
    return None


def percentile(sorted_values, q: float) -> float:
    if not sorted_values:
        return 0.0
    k = min(len(sorted_values) - 1, max(0, int(round(q * (len(sorted_values) - 1)))))
    return sorted_values[k]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20000)
    parser.add_argument("--warmup", type=int, default=2000)
    parser.add_argument("--inflight", type=int, default=64)
    parser.add_argument("--workers", type=int, default=1)
    opts = parser.parse_args()

    with concurrent.futures.ProcessPoolExecutor(max_workers=opts.workers) as pool:
        for _ in range(opts.warmup):
            pool.submit(noop).result()

        clock = time.perf_counter_ns
        samples = []
        start = clock()
        for _ in range(opts.n):
            t0 = clock()
            pool.submit(noop).result()
            samples.append(clock() - t0)
        elapsed = (clock() - start) / 1e9
        samples.sort()

        # Pipelined: keep `inflight` calls outstanding until n have completed.
        start = clock()
        pending = {pool.submit(noop) for _ in range(min(opts.inflight, opts.n))}
        submitted = len(pending)
        done_count = 0
        while pending:
            done, pending = concurrent.futures.wait(
                pending, return_when=concurrent.futures.FIRST_COMPLETED)
            done_count += len(done)
            for _ in done:
                if submitted < opts.n:
                    pending.add(pool.submit(noop))
                    submitted += 1
        pipelined = done_count / ((clock() - start) / 1e9)

    print(json.dumps({
        "n": opts.n,
        "p50_us": round(percentile(samples, 0.50) / 1000, 2),
        "p99_us": round(percentile(samples, 0.99) / 1000, 2),
        "mean_us": round(sum(samples) / len(samples) / 1000, 2),
        "calls_per_s": round(opts.n / elapsed),
        "inflight": opts.inflight,
        "pipelined_calls_per_s": round(pipelined),
    }))


if __name__ == "__main__":
    main()
