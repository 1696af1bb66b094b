#!/usr/bin/env bash
# A Jepsen-style chaos run against a cluster of real node JVMs (docs/cluster.md, "Chaos runs"), e.g.
#   tests/chaos.sh --seed 7 --duration 60s --nemesis kill,pause,drain,worker
#   tests/chaos.sh --seed 3 --duration 90s --nemesis partition        (root: network namespaces)
#   tests/chaos.sh --self-test [--history target/chaos/seed-7/history.ndjson]
# Prints a summary; writes history.ndjson, report.md and timeline.svg; exits 0 only when every checker holds.
set -euo pipefail
cd "$(dirname "$0")/.."
exec tests/run-java.sh io.snakepit.tests.chaos.ChaosMain -Xmx1g -- "$@"
