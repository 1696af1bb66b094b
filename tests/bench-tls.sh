#!/usr/bin/env bash
# The cost of TLS on HTTP execute (docs/benchmarks.md, issue 12): POST /v1/execute (a no-op tool) on two
# nodes started alike, one in plain HTTP and one with --tls-cert/--tls-key (an EC P-256 certificate
# made here with openssl), measured with wrk in ROUNDS interleaved rounds (plain, TLS, plain, ...) so that
# the shared machine's load weighs on both alike. wrk keeps its connections open, as a client with a
# connection pool does: the figure is the cost of encrypting the calls, the handshakes being amortised.
# Prints p50 and requests/s (medians over the rounds) and the ratios TLS / plain.
#
# Usage: tests/bench-tls.sh [connections=4] [duration=5s]   env ROUNDS (default 3), WARMUP (default 5s),
#   SNAKEPIT_POOL_SIZE (default 2). Needs wrk (apt-get install wrk) and openssl.
set -euo pipefail
cd "$(dirname "$0")/.."
conns="${1:-4}"
duration="${2:-5s}"
rounds="${ROUNDS:-3}"
warmup="${WARMUP:-5s}"
pool="${SNAKEPIT_POOL_SIZE:-2}"
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 2; }

tmp="$(mktemp -d)"
leaders=()
cleanup() {
  local p _
  for p in "${leaders[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${leaders[@]}"; do
    for _ in $(seq 1 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$tmp/node.key" \
  -out "$tmp/node.pem" -days 2 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 2>/dev/null

start() { # name, args...: a node in its own process group
  local name="$1"; shift
  setsid ./snakepit run --host 127.0.0.1 --http-port 0 --grpc-port 0 --data-dir "$tmp/$name" --pool-size "$pool" \
    "$@" >"$tmp/$name.out" 2>"$tmp/$name.err" &
  leaders+=("$!")
  local _
  for _ in $(seq 1 1500); do
    grep -q 'snakepit: ready' "$tmp/$name.out" 2>/dev/null && return 0
    kill -0 "${leaders[-1]}" 2>/dev/null || break
    sleep 0.2
  done
  echo "bench-tls: node $name did not start" >&2; cat "$tmp/$name.err" >&2; exit 1
}
start plain
start tls --tls-cert "$tmp/node.pem" --tls-key "$tmp/node.key"
plain_url="http://$(sed -n 's/.*ready http=\([^ ]*\).*/\1/p' "$tmp/plain.out")/v1/execute"
tls_url="https://$(sed -n 's/.*ready http=\([^ ]*\).*/\1/p' "$tmp/tls.out")/v1/execute"

cat >"$tmp/post.lua" <<'LUA'
wrk.method = "POST"
wrk.body = '{"tool":"noop"}'
wrk.headers["Content-Type"] = "application/json"
LUA
to_us() { awk -v v="$1" 'BEGIN { f = 1e6; if (v ~ /us$/) f = 1; else if (v ~ /ms$/) f = 1e3; printf "%.0f", v * f }'; }
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }'; }
declare -A P50 RPS
measure() { # name, url
  wrk -t1 -c"$conns" -d"$duration" --latency -s "$tmp/post.lua" "$2" >"$tmp/wrk.txt"
  if grep -qE 'Non-2xx|Socket errors' "$tmp/wrk.txt"; then
    echo "bench-tls: $1 answered errors: $(grep -E 'Non-2xx|Socket errors' "$tmp/wrk.txt")" >&2; exit 1
  fi
  P50[$1,$round]="$(to_us "$(awk '$1=="50%"{print $2}' "$tmp/wrk.txt")")"
  RPS[$1,$round]="$(awk '/Requests\/sec/{printf "%.0f", $2}' "$tmp/wrk.txt")"
}
wrk -t1 -c"$conns" -d"$warmup" -s "$tmp/post.lua" "$plain_url" >/dev/null
wrk -t1 -c"$conns" -d"$warmup" -s "$tmp/post.lua" "$tls_url" >/dev/null
p50_ratios=(); rps_ratios=()
for round in $(seq 1 "$rounds"); do
  echo "bench-tls: round $round of $rounds" >&2
  measure plain "$plain_url"
  measure tls "$tls_url"
  p50_ratios+=("$(awk -v a="${P50[tls,$round]}" -v b="${P50[plain,$round]}" 'BEGIN { printf "%.3f", a / b }')")
  rps_ratios+=("$(awk -v a="${RPS[tls,$round]}" -v b="${RPS[plain,$round]}" 'BEGIN { printf "%.3f", a / b }')")
done
col() { local -n a="$1"; local r v=(); for r in $(seq 1 "$rounds"); do v+=("${a[$2,$r]}"); done; median "${v[@]}"; }
echo "HTTP execute (noop) with and without TLS: $(nproc) cores, pool $pool, wrk -t1 -c$conns $duration, $rounds interleaved rounds (medians), $(java -version 2>&1 | head -1)"
echo
echo "| node | p50 (µs) | requests/s |"
echo "| --- | ---: | ---: |"
echo "| plain HTTP | $(col P50 plain) | $(col RPS plain) |"
echo "| HTTPS (TLS, EC P-256) | $(col P50 tls) | $(col RPS tls) |"
echo
echo "TLS / plain, median of the rounds' ratios: p50 $(median "${p50_ratios[@]}") (per round: ${p50_ratios[*]}), requests/s $(median "${rps_ratios[@]}") (per round: ${rps_ratios[*]})"
