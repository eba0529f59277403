#!/usr/bin/env bash
# Installs the Debian packages the native build, the interop tests and the JetStream forwarder tests
# (nats-server, Debian's 2.9.10) need (root or sudo).
set -euo pipefail
packages=(g++ make cmake python3 golang-go golang-etcd-server-dev etcd-server etcd-client
  libleveldb-dev golang-github-syndtr-goleveldb-dev valgrind debootstrap nats-server)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
echo "installing: ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
