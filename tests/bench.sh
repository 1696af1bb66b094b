#!/usr/bin/env bash
# Runs a benchmark of docs/benchmarks.md, e.g. tests/bench.sh workers
set -euo pipefail
cd "$(dirname "$0")/.."
which="${1:-workers}"
case "$which" in
  workers) main=io.snakepit.tests.bench.WorkerBenchmark ;;
  sessions) main=io.snakepit.tests.bench.SessionBenchmark ;;
  *) echo "usage: tests/bench.sh workers|sessions [-Dn=... java options]" >&2; exit 2 ;;
esac
# Build in the reactor (nothing goes to ~/.m2) and write each module's classpath.
mvn -q -B -DskipTests package dependency:build-classpath -Dmdep.outputFile=target/classpath.txt \
  -pl tests -am >&2
exec java -Dsnakepit.bench.dir=python-worker/bench "${@:2}" \
  -cp "tests/target/classes:$(cat tests/target/classpath.txt)" "$main"
