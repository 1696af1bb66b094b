#!/usr/bin/env bash
# A soak (docs/benchmarks.md, "Soak"): three node JVMs under a steady load for DURATION (default 10m), e.g.
#   tests/soak.sh 10m            (-Drate=N before it sets the target operations/s per node, default 1000)
# Prints, per minute, throughput, p99 and each node's heap after GC, threads and open files, then whether
# they stayed flat; exits 0 only if they did.
set -euo pipefail
cd "$(dirname "$0")/.."
duration="${1:-10m}"
exec tests/run-java.sh io.snakepit.tests.soak.SoakMain -Xmx1g "${@:2}" -- "$duration"
