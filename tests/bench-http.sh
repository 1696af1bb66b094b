#!/usr/bin/env bash
# HTTP and gRPC benchmark of docs/benchmarks.md (issue 9): the node next to the peers a
# user would otherwise deploy, in one run on one machine.
#   - POST /v1/execute (a no-op tool) on the node and on FastAPI/uvicorn with as many worker
#     processes as the node's pool (tests/bench/peers/fastapi_noop.py), and the node's
#     GET /health (the floor of its HTTP stack); wrk at N connections and at 1.
#   - gRPC Execute (no-op) on the node and on a grpcio Python server
#     (tests/bench/peers/grpc_noop_server.py), sequentially from the same grpcio client.
# The measures run in ROUNDS interleaved rounds (node, peer, node, peer, ...), so that a change in
# a shared machine's load weighs on both sides alike; the table gives each figure's median over
# the rounds, and each ratio is the median of the per-round ratios.
# Prints one markdown table, then issue 9's ratios, each met or not met.
#
# Usage: tests/bench-http.sh [--pool-size N] [connections=4] [duration=5s]
#   env ROUNDS: interleaved rounds (default 3); duration is that of each wrk measure.
#   --pool-size N (or env SNAKEPIT_POOL_SIZE): the node's Python workers and uvicorn's
#   worker processes; default 2. Env GRPC_CALLS: calls per gRPC measure (default 5000,
#   after 1000 to warm up); env WARMUP: wrk's warm-up of each execute endpoint (default 5s).
# Needs wrk; installs with apt-get, when missing, what Debian's /usr/bin/python3 needs for
# the peers (python3-fastapi, python3-uvicorn, python3-uvloop, python3-httptools,
# python3-grpcio, python3-protobuf, protobuf-compiler-grpc).
set -euo pipefail
cd "$(dirname "$0")/.."

pool="${SNAKEPIT_POOL_SIZE:-2}"
positional=()
while [ $# -gt 0 ]; do
  case "$1" in
    --pool-size) pool="$2"; shift 2 ;;
    --pool-size=*) pool="${1#*=}"; shift ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) positional+=("$1"); shift ;;
  esac
done
[[ "$pool" =~ ^[1-9][0-9]*$ ]] || { echo "bench-http: --pool-size must be a positive number" >&2; exit 2; }
conns="${positional[0]:-4}"
duration="${positional[1]:-5s}"
rounds="${ROUNDS:-3}"
grpc_calls="${GRPC_CALLS:-5000}"
warmup="${WARMUP:-5s}"
# The peers run on Debian's python, which has the apt packages; `python3` may be a pyenv shim.
py=/usr/bin/python3
peers=tests/bench/peers
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 2; }

apt_install() { # packages...
  echo "bench-http: apt-get install $*" >&2
  local sudo=""
  if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null || { echo "bench-http: run as root or: apt-get install $*" >&2; return 1; }
    sudo=sudo
  fi
  $sudo apt-get install -y -q "$@" >&2 || { $sudo apt-get update -q >&2 && $sudo apt-get install -y -q "$@" >&2; }
}
"$py" -c 'import fastapi, uvicorn' 2>/dev/null || apt_install python3-fastapi python3-uvicorn
"$py" -c 'import grpc, google.protobuf' 2>/dev/null || apt_install python3-grpcio python3-protobuf
# Stubs come from the project's proto at run time (see peers/snakepit_stubs.py for why protoc).
command -v grpc_python_plugin >/dev/null || apt_install protobuf-compiler-grpc libprotobuf-dev
# uvicorn as a user would deploy it; the pure-Python loop and parser are slower.
"$py" -c 'import uvloop, httptools' 2>/dev/null || apt_install python3-uvloop python3-httptools || true
if "$py" -c 'import uvloop, httptools' 2>/dev/null; then
  uv_impl=(--loop uvloop --http httptools); uv_note="uvloop + httptools"
else
  uv_impl=(--loop asyncio --http h11); uv_note="asyncio + h11 (uvloop/httptools missing: FastAPI slower than deployed)"
fi

tmp="$(mktemp -d)"
leaders=() # each process this script starts leads its own process group (setsid)
current="" # the wrk or client running now, see interruptible
cleanup() {
  local p _
  [ -z "$current" ] || kill "$current" 2>/dev/null || true
  # TERM the leader only, so the node drains its workers and uvicorn stops its own;
  # then KILL whatever is left in the group.
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
start() { # name, command...: runs it in its own process group, output in $tmp/name.{out,err}
  local name="$1"; shift
  setsid "$@" >"$tmp/$name.out" 2>"$tmp/$name.err" &
  leaders+=("$!")
}
wait_until() { # name, command...: until the command succeeds; fails when the process died
  local name="$1" pid="${leaders[-1]}" _; shift
  for _ in $(seq 1 1500); do
    "$@" 2>/dev/null && return 0
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.2
  done
  echo "bench-http: $name did not start" >&2; cat "$tmp/$name.err" >&2; exit 1
}
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1"); }
# Runs a measuring command in the background and waits for it, so that Ctrl-C stops the
# script: bash ignores a SIGINT its foreground child handles, and wrk handles it (it only
# cuts the run short). A background command ignores SIGINT; cleanup ends it.
interruptible() {
  "$@" &
  current=$!
  local rc=0
  wait "$current" || rc=$?
  current=""
  return "$rc"
}
free_port() { "$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

[ -f app/target/snakepit-app.jar ] || echo "bench-http: no build yet; ./snakepit builds the node first" >&2
start node ./snakepit run --host 127.0.0.1 --http-port 0 --grpc-port 0 --data-dir "$tmp/data" --pool-size "$pool"
wait_until node grep -q 'snakepit: ready' "$tmp/node.out"
node_http="$(sed -n 's/.*ready http=\([^ ]*\).*/\1/p' "$tmp/node.out")"
node_grpc="$(sed -n 's/.*ready .*grpc=\([^ ]*\).*/\1/p' "$tmp/node.out")"

# uvicorn binds in its parent and does not print the port it got for --port 0: pick one.
fastapi_port="$(free_port)"
start fastapi "$py" -m uvicorn fastapi_noop:app --app-dir "$peers" --host 127.0.0.1 --port "$fastapi_port" \
  --workers "$pool" "${uv_impl[@]}" --log-level warning
wait_until fastapi port_open "$fastapi_port"
fastapi_http="127.0.0.1:$fastapi_port"

start grpcio "$py" "$peers/grpc_noop_server.py" --port 0
wait_until grpcio grep -q 'ready grpc=' "$tmp/grpcio.out"
peer_grpc="$(sed -n 's/ready grpc=//p' "$tmp/grpcio.out")"

cat >"$tmp/post.lua" <<'LUA'
wrk.method = "POST"
wrk.body = '{"tool":"noop"}'
wrk.headers["Content-Type"] = "application/json"
LUA

to_us() { # a wrk latency (412.00us, 1.23ms, 1.02s) in µs
  awk -v v="$1" 'BEGIN { f = 1e6; if (v ~ /us$/) f = 1; else if (v ~ /ms$/) f = 1e3; else if (v ~ /m$/) f = 6e7
    printf "%.0f", v * f }'
}
warnings=()
declare -A P50 P99 RPS # key,round -> figure
median() { # numbers...: their median (the lower middle of an even count); empty when none
  printf '%s\n' "$@" | awk 'NF' | sort -g | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }'
}
figure() { # array name, key: the median over the rounds
  local -n a="$1"; local r vals=()
  for r in $(seq 1 "$rounds"); do vals+=("${a[$2,$r]:-}"); done
  median "${vals[@]}"
}
row() { # key, label, connections
  printf '| %s | %s | %s | %s | %s |\n' "$2" "$3" "$(figure P50 "$1")" "$(figure P99 "$1")" "$(figure RPS "$1")"
}
measure_wrk() { # key, connections, url, wrk args... (round in $round)
  local key="$1,$round" c="$2" url="$3"; shift 3
  interruptible wrk -t1 -c"$c" -d"$duration" --latency "$@" "$url" >"$tmp/wrk.txt"
  P50[$key]="$(to_us "$(awk '$1=="50%"{print $2}' "$tmp/wrk.txt")")"
  P99[$key]="$(to_us "$(awk '$1=="99%"{print $2}' "$tmp/wrk.txt")")"
  RPS[$key]="$(awk '/Requests\/sec/{printf "%.0f", $2}' "$tmp/wrk.txt")"
  # A peer answering errors would look fast: say so.
  if grep -qE 'Non-2xx|Socket errors' "$tmp/wrk.txt"; then
    warnings+=("$key ($url): $(grep -E 'Non-2xx|Socket errors' "$tmp/wrk.txt" | tr -s ' ' | paste -sd ';')")
  fi
}
measure_grpc() { # key, target (round in $round)
  interruptible "$py" "$peers/grpc_latency.py" "$2" --n "$grpc_calls" --warmup 1000 >"$tmp/grpc.json"
  read -r "P50[$1,$round]" "P99[$1,$round]" "RPS[$1,$round]" < <("$py" -c 'import json, sys; j = json.load(sys.stdin)
print("%.0f %.0f %.0f" % (j["p50_us"], j["p99_us"], j["calls_per_s"]))' <"$tmp/grpc.json")
}

# Warm the node's JIT and every worker process (the node's and uvicorn's).
interruptible wrk -t1 -c"$conns" -d"$warmup" -s "$tmp/post.lua" "http://$node_http/v1/execute" >/dev/null
interruptible wrk -t1 -c"$conns" -d3s "http://$node_http/health" >/dev/null
interruptible wrk -t1 -c"$conns" -d"$warmup" -s "$tmp/post.lua" "http://$fastapi_http/v1/execute" >/dev/null

levels=("$conns"); [ "$conns" = 1 ] || levels+=(1)
for round in $(seq 1 "$rounds"); do
  echo "bench-http: round $round of $rounds" >&2
  for c in "${levels[@]}"; do
    measure_wrk "health$c" "$c" "http://$node_http/health"
    measure_wrk "exec$c" "$c" "http://$node_http/v1/execute" -s "$tmp/post.lua"
    measure_wrk "fastapi$c" "$c" "http://$fastapi_http/v1/execute" -s "$tmp/post.lua"
  done
  measure_grpc grpc_node "$node_grpc"
  measure_grpc grpc_peer "$peer_grpc"
done

echo "Snakepit vs peers: $(nproc) cores, pool/uvicorn workers $pool, wrk -t1 $duration per measure, $rounds interleaved rounds (medians), uvicorn $uv_note, gRPC $grpc_calls sequential calls"
echo
echo "| request | connections | p50 (µs) | p99 (µs) | requests/s |"
echo "| --- | ---: | ---: | ---: | ---: |"
for c in "${levels[@]}"; do
  row "health$c" "Snakepit GET /health" "$c"
  row "exec$c" "Snakepit POST /v1/execute (noop)" "$c"
  row "fastapi$c" "FastAPI/uvicorn POST /v1/execute (noop)" "$c"
done
row grpc_node "Snakepit gRPC Execute (noop), grpcio client" 1
row grpc_peer "grpcio Python server Execute (noop), same client" 1
echo
ratio() { # label, array, numerator key, denominator key, op (ge|le), target: the median of the rounds' ratios
  local -n a="$2"; local r per=()
  for r in $(seq 1 "$rounds"); do
    per+=("$(awk -v x="${a[$3,$r]:-}" -v y="${a[$4,$r]:-}" 'BEGIN { if (x > 0 && y > 0) printf "%.4f", x / y }')")
  done
  awk -v l="$1" -v r="$(median "${per[@]}")" -v all="$(printf '%s ' "${per[@]}")" -v op="$5" -v t="$6" 'BEGIN {
    if (r == "") { printf "- %s: no measure (target %s %s×): not met\n", l, op == "ge" ? "≥" : "≤", t; exit }
    ok = (op == "ge") ? r >= t : r <= t
    printf "- %s: %.2f× (rounds: %s; target %s %s×): %s\n", l, r, all, op == "ge" ? "≥" : "≤", t,
      ok ? "met" : "not met" }'
}
ratio "HTTP execute requests/s, $conns connections, Snakepit / FastAPI" RPS "exec$conns" "fastapi$conns" ge 1.5
ratio "HTTP execute p50, 1 connection, Snakepit / FastAPI" P50 exec1 fastapi1 le 1
ratio "HTTP execute p50 / Snakepit GET /health p50, 1 connection" P50 exec1 health1 le 2.5
ratio "gRPC Execute p50, Snakepit / grpcio Python server" P50 grpc_node grpc_peer le 1.2
for w in "${warnings[@]}"; do echo "- warning: $w"; done
