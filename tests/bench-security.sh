#!/usr/bin/env bash
# The cost of authentication and TLS on HTTP execute (docs/benchmarks.md, issue 12): POST /v1/execute (a
# no-op tool) on three nodes started alike: open (no keys, plain HTTP), with an API key (security.api-keys-file,
# a caller key on every request), and with the key over TLS (--tls-cert/--tls-key, an EC P-256 certificate
# made here with openssl). Measured with wrk in ROUNDS interleaved rounds (open, key, key+TLS, open, ...) so
# that the shared machine's load weighs on all alike. wrk keeps its connections open, as a client with a
# connection pool does: the figure is the cost of checking and encrypting the calls, the handshakes being
# amortised. Prints p50 and requests/s (medians over the rounds) and the ratios to the open node.
#
# Usage: tests/bench-security.sh [connections=4] [duration=5s]   env ROUNDS (default 3), WARMUP (default 5s),
#   SNAKEPIT_POOL_SIZE (default 2). Needs wrk (apt-get install wrk) and openssl.
set -euo pipefail
cd "$(dirname "$0")/.."
conns="${1:-4}"
duration="${2:-5s}"
rounds="${ROUNDS:-3}"
warmup="${WARMUP:-5s}"
pool="${SNAKEPIT_POOL_SIZE:-2}"
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 2; }

bench=bench-security
# shellcheck source=tests/bench-nodes.sh
. tests/bench-nodes.sh

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$tmp/node.key" \
  -out "$tmp/node.pem" -days 2 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 2>/dev/null

key="$(./snakepit keys add bench --role caller --file "$tmp/keys.json" 2>/dev/null)"
start plain
start auth --set "security.api-keys-file=$tmp/keys.json"
start tls --set "security.api-keys-file=$tmp/keys.json" --tls-cert "$tmp/node.pem" --tls-key "$tmp/node.key"
plain_url="http://$(address plain)/v1/execute"
auth_url="http://$(address auth)/v1/execute"
tls_url="https://$(address tls)/v1/execute"

{ cat "$tmp/post.lua"; echo "wrk.headers[\"Authorization\"] = \"Bearer $key\""; } >"$tmp/post-key.lua"
wrk -t1 -c"$conns" -d"$warmup" -s "$tmp/post.lua" "$plain_url" >/dev/null
wrk -t1 -c"$conns" -d"$warmup" -s "$tmp/post-key.lua" "$auth_url" >/dev/null
wrk -t1 -c"$conns" -d"$warmup" -s "$tmp/post-key.lua" "$tls_url" >/dev/null
auth_p50=(); auth_rps=(); tls_p50=(); tls_rps=()
for round in $(seq 1 "$rounds"); do
  echo "bench-security: round $round of $rounds" >&2
  measure plain "$plain_url" "$tmp/post.lua"
  measure auth "$auth_url" "$tmp/post-key.lua"
  measure tls "$tls_url" "$tmp/post-key.lua"
  auth_p50+=("$(ratio "${P50[auth,$round]}" "${P50[plain,$round]}")")
  auth_rps+=("$(ratio "${RPS[auth,$round]}" "${RPS[plain,$round]}")")
  tls_p50+=("$(ratio "${P50[tls,$round]}" "${P50[plain,$round]}")")
  tls_rps+=("$(ratio "${RPS[tls,$round]}" "${RPS[plain,$round]}")")
done
echo "HTTP execute (noop), open / API key / API key + TLS: $(nproc) cores, pool $pool, wrk -t1 -c$conns $duration, $rounds interleaved rounds (medians), $(java -version 2>&1 | head -1)"
echo
echo "| node | p50 (µs) | requests/s | p50 / open | requests/s / open |"
echo "| --- | ---: | ---: | ---: | ---: |"
echo "| open (plain HTTP, no keys) | $(col P50 plain) | $(col RPS plain) | 1 | 1 |"
echo "| API key | $(col P50 auth) | $(col RPS auth) | $(median "${auth_p50[@]}") | $(median "${auth_rps[@]}") |"
echo "| API key + TLS (EC P-256) | $(col P50 tls) | $(col RPS tls) | $(median "${tls_p50[@]}") | $(median "${tls_rps[@]}") |"
echo
echo "Ratios are medians of the rounds' ratios; per round, key+TLS p50: ${tls_p50[*]}; requests/s: ${tls_rps[*]}"
