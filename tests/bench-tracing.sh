#!/usr/bin/env bash
# The cost of OpenTelemetry tracing on HTTP execute (docs/benchmarks.md, docs/tracing.md#cost): POST /v1/execute
# (a no-op tool) on three nodes started alike: tracing off (no tracing.endpoint), tracing on with
# tracing.sampling-rate 0 (the SDK installed and Vert.x given its tracer, but no request sampled), and tracing on
# with tracing.sampling-rate 1 (every call traced, its spans exported). The OTLP endpoint is a sink started here:
# a Python standard-library HTTP server on 127.0.0.1 that reads and discards each POST /v1/traces and answers 200
# with an empty body (an empty ExportTraceServiceResponse). It is a stand-in for a collector: it costs the node an
# export as a real one would, but does nothing with the spans. Measured with wrk in ROUNDS interleaved rounds
# (off, rate 0, rate 1, off, ...) so that the shared machine's load weighs on all alike; wrk keeps its connections
# open. Prints p50 and requests/s (medians over the rounds), the ratios to the node without tracing, and how many
# exports (and bytes) the sink received.
#
# Usage: tests/bench-tracing.sh [connections=4] [duration=5s]   env ROUNDS (default 3), WARMUP (default 15s per
#   node: with 5s the traced nodes were still warming up in the first rounds), SNAKEPIT_POOL_SIZE (default 2).
#   Needs wrk (apt-get install wrk) and python3.
set -euo pipefail
cd "$(dirname "$0")/.."
conns="${1:-4}"
duration="${2:-5s}"
rounds="${ROUNDS:-3}"
warmup="${WARMUP:-15s}"
pool="${SNAKEPIT_POOL_SIZE:-2}"
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 2; }
command -v python3 >/dev/null || { echo "python3 is missing" >&2; exit 2; }

bench=bench-tracing
# shellcheck source=tests/bench-nodes.sh
. tests/bench-nodes.sh

# The OTLP sink (a stand-in for a collector): writes its port to sink.port, then one line per export
# ("<path> <bytes>") to sink.log.
cat >"$tmp/sink.py" <<'PY'
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

class Sink(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(n)
        self.send_response(200 if self.path == "/v1/traces" else 404)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()
        log.write(f"{self.path} {n}\n")
        log.flush()

    def log_message(self, *args):
        pass

log = open(sys.argv[2], "a")
server = ThreadingHTTPServer(("127.0.0.1", 0), Sink)
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
import os
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
server.serve_forever()
PY
setsid python3 "$tmp/sink.py" "$tmp/sink.port" "$tmp/sink.log" >"$tmp/sink.err" 2>&1 &
leaders+=("$!")
for _ in $(seq 1 100); do [ -s "$tmp/sink.port" ] && break; sleep 0.1; done
[ -s "$tmp/sink.port" ] || { echo "bench-tracing: the OTLP sink did not start" >&2; cat "$tmp/sink.err" >&2; exit 1; }
endpoint="http://127.0.0.1:$(cat "$tmp/sink.port")"

start off
start rate0 --set "tracing.endpoint=$endpoint" --set "tracing.sampling-rate=0"
start rate1 --set "tracing.endpoint=$endpoint" --set "tracing.sampling-rate=1"
tracing_on() { cat "$tmp/$1.out" "$tmp/$1.err" | grep -q 'Tracing: spans go to'; }
tracing_on off && { echo "bench-tracing: node off traces" >&2; exit 1; }
for name in rate0 rate1; do
  tracing_on "$name" || { echo "bench-tracing: node $name logged no 'Tracing: spans go to'" >&2; exit 1; }
done
off_url="http://$(address off)/v1/execute"
rate0_url="http://$(address rate0)/v1/execute"
rate1_url="http://$(address rate1)/v1/execute"

for name in off rate0 rate1; do
  url="${name}_url"
  wrk -t1 -c"$conns" -d"$warmup" -s "$tmp/post.lua" "${!url}" >/dev/null
done
sleep 1 # the warm-up's last batch exported
exports_before="$(wc -l <"$tmp/sink.log" 2>/dev/null || echo 0)"
[ "$exports_before" -gt 0 ] || { echo "bench-tracing: the sink received no export after the warm-up" >&2; exit 1; }
rate0_p50=(); rate0_rps=(); rate1_p50=(); rate1_rps=()
for round in $(seq 1 "$rounds"); do
  echo "bench-tracing: round $round of $rounds" >&2
  measure off "$off_url"
  measure rate0 "$rate0_url"
  measure rate1 "$rate1_url"
  rate0_p50+=("$(ratio "${P50[rate0,$round]}" "${P50[off,$round]}")")
  rate0_rps+=("$(ratio "${RPS[rate0,$round]}" "${RPS[off,$round]}")")
  rate1_p50+=("$(ratio "${P50[rate1,$round]}" "${P50[off,$round]}")")
  rate1_rps+=("$(ratio "${RPS[rate1,$round]}" "${RPS[off,$round]}")")
done
sleep 1
exports="$(awk -v skip="$exports_before" 'NR > skip { n++; b += $2 } END { printf "%d exports, %d bytes", n, b }' \
  "$tmp/sink.log")"
echo "HTTP execute (noop), tracing off / on at sampling-rate 0 / on at sampling-rate 1: $(nproc) cores, pool $pool, wrk -t1 -c$conns $duration, $rounds interleaved rounds (medians), $(java -version 2>&1 | head -1)"
echo
echo "| node | p50 (µs) | requests/s | p50 / off | requests/s / off |"
echo "| --- | ---: | ---: | ---: | ---: |"
echo "| tracing off | $(col P50 off) | $(col RPS off) | 1 | 1 |"
echo "| tracing on, sampling-rate 0 | $(col P50 rate0) | $(col RPS rate0) | $(median "${rate0_p50[@]}") | $(median "${rate0_rps[@]}") |"
echo "| tracing on, sampling-rate 1 | $(col P50 rate1) | $(col RPS rate1) | $(median "${rate1_p50[@]}") | $(median "${rate1_rps[@]}") |"
echo
echo "Ratios are medians of the rounds' ratios; per round, rate 0 p50: ${rate0_p50[*]}; requests/s: ${rate0_rps[*]}"
echo "rate 1 p50: ${rate1_p50[*]}; requests/s: ${rate1_rps[*]}"
echo "The sink (a stand-in for a collector) received $exports during the measured rounds."
