#!/usr/bin/env bash
# deps.sh - installs the Debian packages alertq builds, tests and demos with.
# Idempotent: when every package is present it does nothing (and needs no
# network). Run as root on Debian bookworm.
set -euo pipefail

packages=(
	build-essential cmake pkg-config git
	librdkafka-dev libpq-dev libavro-dev libcurl4-openssl-dev libjansson-dev libyaml-dev libssl-dev
	libmicrohttpd-dev
	check valgrind
	postgresql postgresql-client
	python3 python3-aiosmtpd
	chromium chromium-driver python3-selenium
	clang libclang-rt-14-dev clang-format
	docker-compose
	wrk
)

missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" != 0 ]; then
	echo "deps.sh: missing packages: ${missing[*]}; run this script as root to install them" >&2
	exit 1
fi
echo "deps.sh: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
