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
  *) echo "usage: tests/bench.sh workers|sessions|cluster|store [-Dn=... -Drounds=... java options]" >&2; exit 2 ;;
esac
# Build in the reactor (nothing goes to ~/.m2) and write each module's classpath.
# MVN_FLAGS adds Maven options, e.g. MVN_FLAGS="-o -Dmaven.repo.local=/path/to/repo".
mvn ${MVN_FLAGS:-} -q -B -DskipTests package dependency:build-classpath -Dmdep.outputFile=target/classpath.txt \
  -pl tests -am >&2
exec java --add-modules java.se --add-exports java.base/jdk.internal.ref=ALL-UNNAMED \
  --add-opens java.base/java.lang=ALL-UNNAMED --add-opens java.base/sun.nio.ch=ALL-UNNAMED \
  --add-opens java.management/sun.management=ALL-UNNAMED \
  --add-opens jdk.management/com.sun.management.internal=ALL-UNNAMED -Dsnakepit.bench.dir=python-worker/bench "${@:2}" \
  -cp "tests/target/classes:$(cat tests/target/classpath.txt)" "$main"
