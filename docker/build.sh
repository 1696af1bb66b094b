#!/usr/bin/env bash
# Builds the node image (snakepit:dev by default) on this machine, with or without Docker Hub.
#
#   docker/build.sh [--tag NAME] [--prometheus] [--rebuild-base]
#
# The Dockerfile's base images are build arguments whose defaults are public images
# (maven:3.9-eclipse-temurin-17, eclipse-temurin:17-jre). Where they can be pulled, this builds
# with them. Where they cannot (no registry reachable), it builds a local base from Debian's
# packages with debootstrap (as root), imports it (snakepit-base:bookworm), builds the node
# with this machine's Maven and passes the jars in (PREBUILT=true).
#
# --prometheus    also makes the Prometheus image of docker/compose.yaml: prom/prometheus when it
#                 can be pulled, else snakepit-prometheus:bookworm from Debian's prometheus package
#                 (docker/compose.yaml reads PROMETHEUS_IMAGE).
# --rebuild-base  builds the local base images again even when they exist.
#
# Environment: BUILD_IMAGE, RUNTIME_IMAGE, PROMETHEUS_IMAGE (the images to try first),
# DEBIAN_MIRROR and DEBIAN_SUITE (default: this machine's apt sources, bookworm).
# Prints the image names it used, one KEY=VALUE per line on stdout (for scripts); progress on stderr.
set -euo pipefail
cd "$(dirname "$0")/.."

TAG=snakepit:dev
WITH_PROMETHEUS=false
REBUILD_BASE=false
while [ $# -gt 0 ]; do
  case "$1" in
    --tag) TAG="$2"; shift 2 ;;
    --prometheus) WITH_PROMETHEUS=true; shift ;;
    --rebuild-base) REBUILD_BASE=true; shift ;;
    -h|--help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "build.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done

BUILD_IMAGE="${BUILD_IMAGE:-maven:3.9-eclipse-temurin-17}"
RUNTIME_IMAGE="${RUNTIME_IMAGE:-eclipse-temurin:17-jre}"
PROMETHEUS_IMAGE="${PROMETHEUS_IMAGE:-prom/prometheus:v2.53.1}"
LOCAL_BASE=snakepit-base:bookworm
LOCAL_PROMETHEUS=snakepit-prometheus:bookworm
# What the local runtime base holds: a Java runtime, the workers' Python, and tini for PID 1.
BASE_PACKAGES=openjdk-17-jre-headless,python3,tini,ca-certificates

log() { echo "build.sh: $*" >&2; }

have_image() { docker image inspect "$1" >/dev/null 2>&1; }

# Present locally, or pulled now; quiet when the registry is out of reach.
available() {
  have_image "$1" && return 0
  log "pulling $1"
  timeout 300 docker pull -q "$1" >/dev/null 2>&1
}

debian_mirror() {
  if [ -n "${DEBIAN_MIRROR:-}" ]; then echo "$DEBIAN_MIRROR"; return; fi
  local m
  m="$(grep -h -m1 -E '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}' | head -1 || true)"
  [ -z "$m" ] && m="$(grep -h -m1 -E '^deb ' /etc/apt/sources.list 2>/dev/null | awk '{print $2}' | head -1 || true)"
  echo "${m:-http://deb.debian.org/debian}"
}

# debootstrap_image NAME PACKAGES [PREPARE]: a minimal Debian with PACKAGES, imported as image NAME;
# PREPARE, a function, is called with the root filesystem's path before the import.
debootstrap_image() {
  local name="$1" packages="$2" prepare="${3:-}" suite="${DEBIAN_SUITE:-bookworm}" mirror root
  if have_image "$name" && [ "$REBUILD_BASE" = false ] \
      && [ "$(docker image inspect -f '{{index .Config.Labels "io.snakepit.packages"}}' "$name")" = "$packages" ]; then
    log "using $name, built earlier from Debian's packages (--rebuild-base to make it again)"
    return
  fi
  if [ "$(id -u)" != 0 ] || ! command -v debootstrap >/dev/null; then
    log "cannot build $name: debootstrap needs root and the debootstrap package (apt-get install debootstrap)"
    exit 1
  fi
  mirror="$(debian_mirror)"
  root="$(mktemp -d /tmp/snakepit-rootfs.XXXXXX)"
  chmod 755 "$root"   # it becomes the image's /, which every user must traverse
  log "debootstrap $suite ($packages) from $mirror: a few minutes"
  if ! debootstrap --variant=minbase --include="$packages" "$suite" "$root" "$mirror" >"$root.log" 2>&1; then
    tail -20 "$root.log" >&2
    rm -rf "$root" "$root.log"
    exit 1
  fi
  rm -f "$root.log"
  # What an image does not need: downloaded packages, package lists, documentation.
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* "$root"/usr/share/doc/* \
    "$root"/usr/share/man/* "$root"/usr/share/info/*
  if [ -n "$prepare" ]; then "$prepare" "$root"; fi
  log "importing $name"
  tar -C "$root" -c . | docker import \
    -c "LABEL io.snakepit.packages=$packages" -c 'ENV LANG=C.UTF-8' -c 'CMD ["/bin/bash"]' - "$name" >/dev/null
  rm -rf "$root"
}

# Prometheus's storage, owned by the user it runs as in docker/compose.yaml (nobody), as in the public image:
# a named volume takes the ownership of the image's folder.
prometheus_storage() { mkdir -p "$1/prometheus" && chown 65534:65534 "$1/prometheus"; }

if ! docker info >/dev/null 2>&1; then
  log "no Docker engine answers (start dockerd, e.g. 'dockerd --storage-driver=vfs')"
  exit 1
fi

if available "$RUNTIME_IMAGE"; then
  runtime="$RUNTIME_IMAGE"
else
  log "$RUNTIME_IMAGE cannot be pulled: the runtime base comes from Debian's packages instead"
  debootstrap_image "$LOCAL_BASE" "$BASE_PACKAGES"
  runtime="$LOCAL_BASE"
fi

if available "$BUILD_IMAGE"; then
  build="$BUILD_IMAGE"
  prebuilt=false
else
  log "$BUILD_IMAGE cannot be pulled: building the node with this machine's Maven (mvn package, tests skipped)"
  mvn -q -B -DskipTests package -pl app -am >&2
  build="$runtime"
  prebuilt=true
fi

log "docker build $TAG (build image $build, runtime image $runtime, prebuilt $prebuilt)"
docker build -q -f docker/Dockerfile -t "$TAG" \
  --build-arg BUILD_IMAGE="$build" --build-arg RUNTIME_IMAGE="$runtime" --build-arg PREBUILT="$prebuilt" . >/dev/null
# The build stage, and the image this tag named before, stay behind untagged: remove them (only ours).
docker image prune -f --filter label=io.snakepit.image=build >/dev/null
docker image prune -f --filter label=io.snakepit.image=node >/dev/null
echo "SNAKEPIT_IMAGE=$TAG"

if [ "$WITH_PROMETHEUS" = true ]; then
  if available "$PROMETHEUS_IMAGE"; then
    echo "PROMETHEUS_IMAGE=$PROMETHEUS_IMAGE"
  else
    log "$PROMETHEUS_IMAGE cannot be pulled: $LOCAL_PROMETHEUS, from Debian's prometheus package, instead"
    debootstrap_image "$LOCAL_PROMETHEUS" prometheus prometheus_storage
    echo "PROMETHEUS_IMAGE=$LOCAL_PROMETHEUS"
  fi
fi
