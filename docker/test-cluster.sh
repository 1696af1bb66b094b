#!/usr/bin/env bash
# The image and the Compose cluster, built and run here, end to end (docs/containers.md):
#   docker/test-cluster.sh
# Builds snakepit:dev and the Prometheus image (docker/build.sh), builds the custom-tools example
# on it twice (v1, and v2 with a changed tool), then, on a three-node Compose cluster with
# Prometheus, through ports published on 127.0.0.1 only (docker/test_cluster.py):
#   - calls and sessions through every node, and Prometheus scraping all three;
#   - docker kill of the owner of the most sessions: every one served by the survivors within 10 s;
#   - docker stop of a node: it drains, exits 0, and the sessions' Python-side state is handed over;
#     then it restarts on its volume;
#   - a rolling upgrade to v2, one node at a time, under a steady call and write load: zero failed
#     calls, zero lost acknowledged writes.
# Exit status 0 only when every check holds. Leaves no container, network or volume behind.
# With SNAKEPIT_IMAGE and PROMETHEUS_IMAGE both set (as docker/build.sh prints them), it uses
# those images and builds none.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${SNAKEPIT_IMAGE:-}" ] || [ -z "${PROMETHEUS_IMAGE:-}" ]; then
  images="$(docker/build.sh --prometheus)"
  eval "$images"
fi
exec python3 docker/test_cluster.py --image "$SNAKEPIT_IMAGE" --prometheus-image "$PROMETHEUS_IMAGE" "$@"
