#!/usr/bin/env bash
# Installs and starts what the tests (and the server) need on a Debian machine: Docker engine, busybox-static
# (test images are built FROM scratch with it, no registry is reachable), git, Caddy, and what the Swarm tests'
# cluster needs (docker-registry, iproute2, iptables), chromium for the dashboard's browser test. Idempotent.
# `--tests` (scripts/test.sh): also what only the tests use; scripts/start.sh installs what the server runs on.
set -euo pipefail
tests=0
[ "${1:-}" = "--tests" ] && tests=1

need=()
command -v dockerd >/dev/null 2>&1 || need+=(docker.io)
[ -x /bin/busybox ] && /bin/busybox --list 2>/dev/null | grep -qx httpd || need+=(busybox-static)
command -v git >/dev/null 2>&1 || need+=(git)
command -v caddy >/dev/null 2>&1 || need+=(caddy)
# The Swarm tests' cluster (packages/docker-driver/test/helpers/swarmCluster.ts): a registry, namespaces and veths,
# the FORWARD rule for its bridge, and unshare/nsenter (util-linux) to enter the namespaces.
if [ "$tests" = 1 ]; then
  command -v docker-registry >/dev/null 2>&1 || need+=(docker-registry)
  command -v ip >/dev/null 2>&1 || need+=(iproute2)
  command -v iptables >/dev/null 2>&1 || need+=(iptables)
  { command -v unshare && command -v nsenter; } >/dev/null 2>&1 || need+=(util-linux)
  # The dashboard's end-to-end test drives Debian's browser (packages/dashboard/test): no browser download here.
  command -v chromium >/dev/null 2>&1 || need+=(chromium)
fi
if [ "${#need[@]}" -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "ensure-system: installing ${need[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "ensure-system: missing ${need[*]}. Install them (Debian: sudo apt-get install -y ${need[*]}) and start dockerd." >&2
    exit 1
  fi
fi

if ! docker info >/dev/null 2>&1; then
  if [ "$(id -u)" != 0 ]; then
    echo "ensure-system: the Docker engine is not answering and only root can start it here (run: sudo dockerd &)." >&2
    exit 1
  fi
  # A dockerd killed uncleanly leaves its pid file behind and then refuses to start.
  if ! pgrep -x dockerd >/dev/null 2>&1; then
    rm -f /var/run/docker.pid
    mkdir -p /var/log
    nohup dockerd >/var/log/cynchro-dockerd.log 2>&1 &
  fi
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  docker info >/dev/null 2>&1 || { echo "ensure-system: dockerd did not come up; see /var/log/cynchro-dockerd.log" >&2; exit 1; }
fi
echo "ensure-system: docker $(docker version --format '{{.Server.Version}}'), $(git --version), caddy $(caddy version | cut -d' ' -f1)"
