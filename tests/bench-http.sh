#!/usr/bin/env bash
# HTTP benchmark of docs/benchmarks.md: POST /v1/execute (a no-op tool) end to end,
# next to GET /health (the floor of the HTTP stack), with wrk at moderate load.
# Usage: tests/bench-http.sh [connections=4] [duration=15s]
set -euo pipefail
cd "$(dirname "$0")/.."
conns="${1:-4}"
duration="${2:-15s}"
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 2; }

data="$(mktemp -d)"
out="$data/node.out"
./snakepit run --http-port 0 --data-dir "$data" --pool-size 4 >"$out" 2>"$data/node.err" &
node=$!
cleanup() { kill "$node" 2>/dev/null || true; wait "$node" 2>/dev/null || true; rm -rf "$data"; }
trap cleanup EXIT
for _ in $(seq 1 600); do grep -q 'snakepit: ready' "$out" 2>/dev/null && break; sleep 0.2; done
addr="$(sed -n 's/.*ready http=\([^ ]*\).*/\1/p' "$out")"
[ -n "$addr" ] || { echo "the node did not start" >&2; cat "$data/node.err" >&2; exit 1; }

cat >"$data/post.lua" <<'LUA'
wrk.method = "POST"
wrk.body = '{"tool":"noop"}'
wrk.headers["Content-Type"] = "application/json"
LUA

run() { # name, wrk args...
  local name="$1"; shift
  wrk -t1 -c"$conns" -d"$duration" --latency "$@" >"$data/wrk.txt"
  local p50 p99 rps
  p50="$(awk '$1=="50%"{print $2}' "$data/wrk.txt")"
  p99="$(awk '$1=="99%"{print $2}' "$data/wrk.txt")"
  rps="$(awk '/Requests\/sec/{print $2}' "$data/wrk.txt")"
  printf '| %s | %s | %s | %s |\n' "$name" "$p50" "$p99" "$rps"
}
# Warm the JIT and the workers first.
wrk -t1 -c"$conns" -d5s -s "$data/post.lua" "http://$addr/v1/execute" >/dev/null
wrk -t1 -c"$conns" -d3s "http://$addr/health" >/dev/null
echo "| request ($conns connections, $duration) | p50 | p99 | requests/s |"
echo "| --- | ---: | ---: | ---: |"
run "GET /health (floor of the HTTP stack)" "http://$addr/health"
run "POST /v1/execute, no-op tool, end to end" -s "$data/post.lua" "http://$addr/v1/execute"
