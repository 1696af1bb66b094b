#!/usr/bin/env bash
# Runs a benchmark of docs/benchmarks.md, e.g. tests/bench.sh workers
set -euo pipefail
cd "$(dirname "$0")/.."
which="${1:-workers}"
case "$which" in
  workers) main=io.snakepit.tests.bench.WorkerBenchmark ;;
  sessions) main=io.snakepit.tests.bench.SessionBenchmark ;;
  cluster) main=io.snakepit.tests.bench.ClusterBenchmark ;;
  store) main=io.snakepit.tests.bench.StoreBenchmark ;;
  encryption) main=io.snakepit.tests.bench.EncryptionBenchmark ;;
  backfill) main=io.snakepit.tests.bench.BackfillBenchmark ;;
  *) echo "usage: tests/bench.sh workers|sessions|cluster|store|encryption|backfill [-Dn=... -Drounds=... java options]" >&2; exit 2 ;;
esac
exec tests/run-java.sh "$main" -Dsnakepit.bench.dir=python-worker/bench "${@:2}" --
