#!/bin/bash
# Install every Debian package that vigil's build, demo and tests need.
#
# Idempotent and fast: when dpkg already reports every package as installed,
# nothing touches the network. Otherwise `apt-get update` runs once and the
# missing packages are installed without recommends. Needs root (CI and the
# developer machines run as root); works on a fresh Debian 12.
#
# If installing postgresql-15 creates and starts Debian's system cluster
# (port 5432), it is left alone: vigil's tests never use it, each test makes
# its own throwaway cluster on a free port (tests/it/lib.sh).
set -euo pipefail

PKGS=(
	# build
	build-essential pkg-config
	libpq-dev zlib1g-dev libarchive-dev libmicrohttpd-dev libcurl4-openssl-dev
	libcjson-dev libdeflate-dev libzstd-dev libssl-dev
	# PostgreSQL 15 server (throwaway test clusters) and client (pg_dump, psql)
	postgresql-15 postgresql-client-15
	# tests and demo
	faketime python3 python3-aiosmtpd prometheus valgrind
	util-linux procps tar gzip zstd coreutils
	# a server with Spanish messages (t_restore_spanish; es_ES.UTF-8 is made there)
	locales
)

# Print the packages of "$@" that dpkg does not report as installed
# (one dpkg-query call: this is the fast path of every `make check`).
not_installed() {
	local -A ok=()
	local name st
	while read -r name st; do
		[[ $st == installed ]] && ok[${name%%:*}]=1
	done < <(dpkg-query -W -f='${Package} ${db:Status-Status}\n' "$@" 2>/dev/null || true)
	for name in "$@"; do
		[[ -n ${ok[$name]:-} ]] || echo "$name"
	done
}

mapfile -t missing < <(not_installed "${PKGS[@]}")

if ((${#missing[@]} == 0)); then
	exit 0
fi

if [[ $(id -u) -ne 0 ]]; then
	echo "deps: missing packages: ${missing[*]}" >&2
	echo "deps: run as root (or: sudo bash scripts/deps.sh)" >&2
	exit 1
fi

echo "deps: installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null

# Check again: a package that apt could not provide must fail loudly here,
# not as a puzzling build or test error later.
mapfile -t still < <(not_installed "${missing[@]}")
if ((${#still[@]} > 0)); then
	echo "deps: still not installed: ${still[*]}" >&2
	exit 1
fi
echo "deps: done"
