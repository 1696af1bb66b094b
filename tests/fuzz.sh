#!/usr/bin/env bash
# A seeded fuzz run against a real node (docs/operations.md, "Fuzzing"): hostile HTTP, gRPC, event-bus
# messages and worker frames; the node must answer each with a typed error and stay healthy and flat, e.g.
#   tests/fuzz.sh --seed 7 --duration 5m
# Prints a summary; writes it and the node's log to --out (default target/fuzz/seed-N); exits 0 only when clean.
set -euo pipefail
cd "$(dirname "$0")/.."
exec tests/run-java.sh io.snakepit.tests.fuzz.FuzzMain -Xmx1g -- "$@"
