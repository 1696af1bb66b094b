# Shared by the benchmarks that compare node configurations with wrk in interleaved rounds
# (tests/bench-security.sh, tests/bench-tracing.sh): sourced, never run. The sourcing script sets
# bench (its name, for messages), conns, duration and pool before it sources this file.
#
# It gives: $tmp (removed at exit) and cleanup of every process group started with `start` or added to
# leaders; start NAME ARGS... (a node with `./snakepit run`, waits for its ready line); address NAME;
# $tmp/post.lua (POST /v1/execute of the no-op tool); measure NAME URL [SCRIPT] into P50[NAME,$round] and
# RPS[NAME,$round]; ratio A B; median VALUES...; col P50|RPS NAME (the median over the rounds).

tmp="$(mktemp -d)"
leaders=()
cleanup() {
  local p _
  # TERM the leader only, so a node drains its workers; then KILL whatever is left in its group.
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
  echo "$bench: node $name did not start" >&2; cat "$tmp/$name.err" >&2; exit 1
}
address() { sed -n 's/.*ready http=\([^ ]*\).*/\1/p' "$tmp/$1.out"; }

cat >"$tmp/post.lua" <<'LUA'
wrk.method = "POST"
wrk.body = '{"tool":"noop"}'
wrk.headers["Content-Type"] = "application/json"
LUA
to_us() { awk -v v="$1" 'BEGIN { f = 1e6; if (v ~ /us$/) f = 1; else if (v ~ /ms$/) f = 1e3; printf "%.0f", v * f }'; }
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }
declare -A P50 RPS
measure() { # name, url, script (default post.lua)
  wrk -t1 -c"$conns" -d"$duration" --latency -s "${3:-$tmp/post.lua}" "$2" >"$tmp/wrk.txt"
  if grep -qE 'Non-2xx|Socket errors' "$tmp/wrk.txt"; then
    echo "$bench: $1 answered errors: $(grep -E 'Non-2xx|Socket errors' "$tmp/wrk.txt")" >&2; exit 1
  fi
  P50[$1,$round]="$(to_us "$(awk '$1=="50%"{print $2}' "$tmp/wrk.txt")")"
  RPS[$1,$round]="$(awk '/Requests\/sec/{printf "%.0f", $2}' "$tmp/wrk.txt")"
}
col() { local -n a="$1"; local r v=(); for r in $(seq 1 "$rounds"); do v+=("${a[$2,$r]}"); done; median "${v[@]}"; }
