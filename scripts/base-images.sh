#!/bin/bash
# scripts/base-images.sh - make the base images `make check-image` needs when
# the Docker engine does not have them, for machines that reach no image
# registry (this project's CI):
#
#   debian:bookworm-slim, debian:trixie-slim
#       debootstrap --variant=minbase SUITE into a temp dir (keys from
#       debian-archive-keyring; never --no-check-gpg), slimmed like the
#       official slim images (no docs, man pages or locales, through dpkg
#       path-exclude rules that also hold for later apt-get installs; apt
#       lists and caches removed), then `tar | docker import` with CMD
#       ["bash"] and a label saying it is a local stand-in.
#   postgres:15
#       tests/image/postgres/Dockerfile: Debian's postgresql-15 on
#       debian:bookworm-slim, with an entrypoint that reads POSTGRES_USER,
#       POSTGRES_PASSWORD, POSTGRES_DB and PGDATA like the official image.
#
# An image that already exists is never replaced: whoever pulled the real
# debian:bookworm-slim or postgres:15 keeps it, and the tests use it.
# Arguments name the images to make (default: all three). Needs root (for
# debootstrap) and network access to the Debian mirror (DEBIAN_MIRROR,
# default http://deb.debian.org/debian). Exit 0 when every image exists.
set -euo pipefail
cd "$(dirname "$0")/.."

MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg

say() { printf 'base-images: %s\n' "$*" >&2; }
die() { say "ERROR: $*"; exit 1; }

have_image() { docker image inspect "$1" >/dev/null 2>&1; }

# need_debootstrap: install debootstrap (and the keyring) by name if missing.
need_debootstrap() {
	command -v debootstrap >/dev/null 2>&1 && [[ -f $KEYRING ]] && return 0
	[[ $(id -u) == 0 ]] || die "debootstrap is missing; install it as root: apt-get install debootstrap debian-archive-keyring"
	say "installing debootstrap"
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
		debootstrap debian-archive-keyring >/dev/null ||
		{ apt-get update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y \
			--no-install-recommends debootstrap debian-archive-keyring >/dev/null; } ||
		die "cannot install debootstrap"
}

# check_keys SUITE: the keyring must carry the suite's release keys, or
# debootstrap cannot check the Release file (and we never skip that check).
check_keys() {
	local n
	n=$(gpg --show-keys --with-colons "$KEYRING" 2>/dev/null | grep -c "^uid:.*($2/$1)" || true)
	((n > 0)) || die "$KEYRING has no $1 keys; upgrade debian-archive-keyring"
}

# slim ROOT: what the official slim images leave out, and the rules that
# keep later installs (apt-get install in a Dockerfile) slim too.
slim() {
	local root=$1
	mkdir -p "$root/etc/dpkg/dpkg.cfg.d" "$root/etc/apt/apt.conf.d"
	cat >"$root/etc/dpkg/dpkg.cfg.d/docker" <<'EOF'
# local stand-in for the official slim image: no docs, man pages or locales
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
EOF
	cat >"$root/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
	cat >"$root/etc/apt/apt.conf.d/docker-no-languages" <<'EOF'
Acquire::Languages "none";
EOF
	find "$root/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete 2>/dev/null || true
	find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete 2>/dev/null || true
	rm -rf "$root"/usr/share/man/* "$root"/usr/share/groff/* "$root"/usr/share/info/* \
		"$root"/usr/share/lintian/* "$root"/usr/share/linda/* "$root"/usr/share/locale/* \
		"$root"/var/lib/apt/lists/* "$root"/var/cache/apt/* "$root"/var/cache/debconf/*-old \
		"$root"/var/log/* "$root"/tmp/* "$root"/root/.bash_history
	# Reproducible machine identity: none (systemd would make one at boot).
	: >"$root/etc/machine-id"
}

# sources SUITE ROOT: the suite, its updates and its security updates, as
# the official images list them.
sources() {
	local suite=$1 root=$2
	rm -f "$root/etc/apt/sources.list"
	cat >"$root/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $MIRROR
Suites: $suite $suite-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: $suite-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
}

# debian_slim SUITE NUMBER: debootstrap, slim, import as debian:SUITE-slim.
debian_slim() {
	local suite=$1 num=$2 tag=debian:$1-slim dir
	have_image "$tag" && { say "$tag exists, kept"; return 0; }
	need_debootstrap
	check_keys "$suite" "$num"
	dir=$(mktemp -d "${TMPDIR:-/tmp}/base-$suite.XXXXXX")
	TMPDIRS+=("$dir")
	say "debootstrap --variant=minbase $suite (about a minute)"
	debootstrap --variant=minbase --keyring="$KEYRING" "$suite" "$dir/root" "$MIRROR" \
		>"$dir/log" 2>&1 || { tail -n 20 "$dir/log" >&2; die "debootstrap $suite failed"; }
	# debian-archive-keyring is needed by the sources' Signed-By.
	[[ -f $dir/root$KEYRING ]] || die "$suite root has no archive keyring"
	sources "$suite" "$dir/root"
	slim "$dir/root"
	say "docker import $tag"
	tar -C "$dir/root" --numeric-owner -c . | docker import \
		-c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
		-c 'CMD ["bash"]' \
		-c "LABEL org.opencontainers.image.description=\"LOCAL STAND-IN for the official $tag, made by vigil's scripts/base-images.sh: debootstrap --variant=minbase $suite $MIRROR, docs/man/locales removed, apt lists cleaned, docker import\"" \
		-c "LABEL vigil.stand-in=\"$tag\"" \
		- "$tag" >/dev/null || die "docker import $tag failed"
}

postgres15() {
	local tag=postgres:15
	have_image "$tag" && { say "$tag exists, kept"; return 0; }
	have_image debian:bookworm-slim || debian_slim bookworm 12
	say "docker build $tag (Debian's postgresql-15)"
	docker build -q -t "$tag" tests/image/postgres >/dev/null || die "docker build $tag failed"
}

TMPDIRS=()
cleanup() { ((${#TMPDIRS[@]} == 0)) || rm -rf "${TMPDIRS[@]}"; }
trap cleanup EXIT

docker info >/dev/null 2>&1 || die "no Docker engine (docker info failed)"
(($# > 0)) || set -- debian:bookworm-slim debian:trixie-slim postgres:15
for img in "$@"; do
	case $img in
	debian:bookworm-slim) debian_slim bookworm 12 ;;
	debian:trixie-slim) debian_slim trixie 13 ;;
	postgres:15) postgres15 ;;
	*) die "unknown image $img (debian:bookworm-slim, debian:trixie-slim, postgres:15)" ;;
	esac
done
