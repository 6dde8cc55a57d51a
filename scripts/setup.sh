#!/usr/bin/env bash
# Installs what the project needs on a fresh Debian machine (idempotent), then builds the
# workspace once in release mode. Run as root (or with sudo for the apt step).
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
command -v iptables >/dev/null || need+=(iptables)
command -v ip >/dev/null || need+=(iproute2)
command -v etcd >/dev/null || need+=(etcd-server)
command -v etcdctl >/dev/null || need+=(etcd-client)
# libfaketime (a per-process view of the clock, for clock faults) and its `faketime` tool.
command -v faketime >/dev/null || need+=(faketime libfaketime)
[[ -f /usr/share/java/zookeeper.jar ]] || need+=(zookeeper)
if ((${#need[@]})); then
  if [[ $(id -u) -eq 0 ]]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "setup: missing ${need[*]}; run as root to install them" >&2
  fi
fi
# CI fails on an unused dependency (scripts/test.sh runs cargo machete).
command -v cargo-machete >/dev/null || cargo install --locked cargo-machete
cargo build --release --workspace --bins
