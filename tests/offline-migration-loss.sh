#!/usr/bin/env bash
# What the offline way of moving sessions loses (issue 16, docs/migration.md): a node takes counter increments for
# SECONDS (6) while its sessions are exported after 2 s, it is stopped, a new node starts on an empty data dir and
# imports the export. Prints the increments acknowledged by the first node and those the second one holds.
# A live migration (snakepit migrate) loses none: OneNodeToThreeMigrationTest, ClusterMigrationTest.
# Usage: tests/offline-migration-loss.sh [SECONDS]   (after mvn install -DskipTests; needs curl and python3)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-6}"
work="$(mktemp -d /tmp/snakepit-offline-loss-XXXXXX)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
start_node() { # DIR HTTP-PORT: starts a node, waits until it is ready
  ./snakepit run --data-dir "$1" --http-port "$2" --grpc-port "$(free_port)" --pool-size 1 >"$1.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 240); do curl -sf "127.0.0.1:$2/ready" >/dev/null && return 0; sleep 0.5; done
  echo "the node on port $2 did not become ready; its log: $1.log" >&2
  exit 1
}
a_port="$(free_port)"
start_node "$work/a" "$a_port"
for i in $(seq 0 19); do
  curl -sf -XPOST "127.0.0.1:$a_port/v1/sessions" -H 'content-type: application/json' -d "{\"id\":\"r-$i\"}" >/dev/null
done
python3 - "$a_port" "$seconds" "$work/acked.json" <<'PY' &
import json, sys, time, urllib.request
port, seconds, out = sys.argv[1], float(sys.argv[2]), sys.argv[3]
acked = {f"r-{i}": 0 for i in range(20)}
end = time.time() + seconds
while time.time() < end:
    for s in acked:
        req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/sessions/{s}/variables/n/increment", data=b"{}",
                                     headers={"content-type": "application/json"}, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=5) as r:
                acked[s] += r.status == 200
        except OSError:
            pass  # not acknowledged
json.dump(acked, open(out, "w"))
PY
writer=$!
sleep 2
./snakepit sessions export --out "$work/export.ndjson" --url "http://127.0.0.1:$a_port" 2>"$work/export.err"
wait "$writer"
kill -TERM "${pids[0]}"; wait "${pids[0]}" 2>/dev/null || true
b_port="$(free_port)"
start_node "$work/b" "$b_port"
./snakepit sessions import "$work/export.ndjson" --url "http://127.0.0.1:$b_port" >"$work/import.out" 2>&1
python3 - "$b_port" "$work/acked.json" <<'PY'
import json, sys, urllib.request
port, acked = sys.argv[1], json.load(open(sys.argv[2]))
held = {}
for s in acked:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/sessions/{s}/variables") as r:
        held[s] = json.load(r)["variables"].get("n", 0)
total, kept = sum(acked.values()), sum(held.values())
print(f"acknowledged increments: {total}; held by the new node after the import: {kept}; lost: {total - kept} "
      f"({100.0 * (total - kept) / max(total, 1):.0f} %); sessions short: "
      f"{sum(held[s] < n for s, n in acked.items())} of {len(acked)}")
PY
