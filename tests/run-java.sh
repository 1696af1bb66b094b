#!/usr/bin/env bash
# Builds the project in the reactor (nothing goes to ~/.m2) and runs a main class of the tests module with
# the JVM flags Hazelcast asks for: tests/run-java.sh CLASS [JAVA OPTIONS...] -- [ARGS...]
# MVN_FLAGS adds Maven options, e.g. MVN_FLAGS="-o -Dmaven.repo.local=/path/to/repo".
set -euo pipefail
cd "$(dirname "$0")/.."
main="$1"; shift
jvm=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do jvm+=("$1"); shift; done
[ $# -gt 0 ] && shift
mvn ${MVN_FLAGS:-} -q -B -DskipTests package dependency:build-classpath -Dmdep.outputFile=target/classpath.txt \
  -pl tests -am >&2
exec java --add-modules java.se --add-exports java.base/jdk.internal.ref=ALL-UNNAMED \
  --add-opens java.base/java.lang=ALL-UNNAMED --add-opens java.base/sun.nio.ch=ALL-UNNAMED \
  --add-opens java.management/sun.management=ALL-UNNAMED \
  --add-opens jdk.management/com.sun.management.internal=ALL-UNNAMED ${jvm[@]+"${jvm[@]}"} \
  -cp "tests/target/classes:$(cat tests/target/classpath.txt)" "$main" "$@"
