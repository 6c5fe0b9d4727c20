#!/bin/bash
# Build build-static/vigil: a fully static x86-64 binary (glibc static) with
# every library of the normal build (Makefile PKGS).
#
# Usage:
#   scripts/static.sh deps   build and cache the libraries only
#   scripts/static.sh        deps, then link vigil (what `make static` runs)
#
# Where the libraries come from:
# - Debian's own static archives: zlib (libz.a), libdeflate, libzstd and
#   OpenSSL (libssl.a, libcrypto.a), from their -dev packages, with their .pc
#   files.
# - Built here from Debian's *source* packages (`apt-get source`, so Debian's
#   patches are applied), at the versions pinned in scripts/static-versions,
#   configured with every feature vigil does not use switched off:
#     libpq (postgresql-15)  OpenSSL; no readline, zlib, ICU, GSSAPI, LDAP, NLS
#     libcurl (curl)         HTTP, HTTPS, SMTP, SMTPS only; OpenSSL; IPv6; no CA
#                            bundle or path baked in (vigil hands the bundle to
#                            libcurl itself with CURLOPT_CAINFO); no LDAP,
#                            GSSAPI, IDN, PSL, HTTP/2, brotli, zstd, SSH, RTMP
#     libarchive             formats only (vigil writes pax, reads tar, and
#                            extracts with write_disk); no compression or
#                            crypto libraries, no ACL/xattr (vigil's archives
#                            carry neither), iconv from glibc
#     libmicrohttpd          no HTTPS (GnuTLS)
#     cjson                  cJSON.c alone (Debian ships no libcjson.a)
#   Debian's static libpq and libcurl cannot be used: they pull in Kerberos
#   and LDAP, which have no static archives.
#
# The libraries are installed into a cache prefix,
#   ${VIGIL_STATIC_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vigil/static}/<key>
# where <key> is a hash of the pins, this script and the compiler version:
# a second run finds the prefix complete and builds no library (and needs
# neither the network nor root). Changing a pin or this script builds a new
# prefix; old ones can be deleted by hand.
#
# Run as root (CI, the Dockerfile's build stage, the developer machines), it
# installs its own Debian build packages and, when no deb-src entry exists,
# adds one for every enabled bookworm `deb` source (same mirror, same suites:
# bookworm, bookworm-updates, bookworm-security) in
# /etc/apt/sources.list.d/vigil-static-src.sources, then runs
# `apt-get update` once. As another user it only checks and names what is
# missing. Works in a fresh debian:bookworm-slim.
#
# Environment:
#   VIGIL_STATIC_CACHE     base directory of the cache (see above)
#   VIGIL_STATIC_UNPINNED  1: when a pinned version is no longer on the
#                          mirror, build the version the mirror offers
#                          instead of failing (a WARN names it; the cache key
#                          follows the version really built). For a one-off
#                          build after Debian replaced a version; update
#                          scripts/static-versions for anything that stays.
#   GITREV                 build id compiled into vigil (`make static
#                          GITREV=...`; the Makefile passes it on)
#   JOBS                   parallel jobs (default: nproc)
#
# The static link prints glibc's warning that getaddrinfo "requires at runtime
# the shared libraries from the glibc version used for linking": expected.
# Static glibc 2.36 resolves names through its built-in "files" and "dns"
# sources (/etc/hosts, /etc/resolv.conf) when no NSS module can be loaded,
# which is all a container needs. The same holds for the one user lookup in
# the binary, libpq's getpwuid_r (the home directory for ~/.pgpass and
# ~/.postgresql/, the default user name): static glibc reads /etc/passwd
# with its built-in "files" source. vigil itself looks up no user or group
# names. The "dlopen" and "gethostbyname" warnings come from OpenSSL code
# that vigil does not reach (DSO loading, BIO_gethostbyname).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
PINS=$HERE/static-versions
SELF=$HERE/$(basename "${BASH_SOURCE[0]}")
JOBS=${JOBS:-$(nproc)}
MODE=${1:-all}

# The Debian packages a library build needs. The -dev packages also provide
# the static archives and .pc files of the Debian-built libraries; autoconf,
# automake and libtool regenerate configure after Debian's patches (as
# Debian's own build does); patch takes curl's GnuTLS/NSS flavour patches
# off again. libpq from a release tarball needs neither bison nor flex.
BUILD_PKGS=(build-essential pkg-config file dpkg-dev patch xz-utils bzip2 ca-certificates
	autoconf automake libtool zlib1g-dev libdeflate-dev libzstd-dev libssl-dev)
# What linking vigil against a complete prefix needs.
LINK_PKGS=(build-essential pkg-config file zlib1g-dev libdeflate-dev libzstd-dev libssl-dev)

say() { printf 'static.sh: %s\n' "$*" >&2; }
die() { say "ERROR: $*"; exit 1; }

case $MODE in
deps | all) ;;
*) die "usage: scripts/static.sh [deps]  (got: $*)" ;;
esac
[[ $(uname -m) == x86_64 ]] || die "only x86-64 is supported (this is $(uname -m))"
[[ -r $PINS ]] || die "no pin file $PINS"

# ---------------------------------------------------------------------------
# Pins: PIN[source-package]=version, read from scripts/static-versions.
declare -A PIN=()
while read -r name ver rest; do
	[[ -z $name || $name == \#* ]] && continue
	[[ -n $ver && -z $rest ]] || die "$PINS: want 'package version', got: $name $ver $rest"
	PIN[$name]=$ver
done <"$PINS"
for name in postgresql-15 curl libarchive libmicrohttpd cjson; do
	[[ -n ${PIN[$name]:-} ]] || die "$PINS pins no version of $name"
done

# ---------------------------------------------------------------------------
# Debian packages: dpkg reports each of "$@" installed, or print the missing.
missing_pkgs() {
	local have p
	have=$(dpkg-query -W -f='${Package} ${db:Status-Status}\n' "$@" 2>/dev/null |
		awk '$2 == "installed" { sub(/:.*/, "", $1); print $1 }' || true)
	for p in "$@"; do
		grep -qx -- "$p" <<<"$have" || echo "$p"
	done
}

# apt-get update, at most once a run unless NEED_UPDATE says the sources
# changed since (a new deb-src entry).
UPDATED=0 NEED_UPDATE=0
apt_update_once() {
	((UPDATED && !NEED_UPDATE)) && return 0
	say "apt-get update"
	apt-get -o DPkg::Lock::Timeout=600 update -qq >&2
	UPDATED=1 NEED_UPDATE=0
}

# Install "$@" when root; otherwise fail naming them.
ensure_pkgs() {
	local miss
	miss=$(missing_pkgs "$@" | tr '\n' ' ')
	[[ -z ${miss// /} ]] && return 0
	((EUID == 0)) || die "missing Debian packages (run as root, or: apt-get install $miss)"
	apt_update_once
	say "installing $miss"
	# shellcheck disable=SC2086 # a list of package names
	DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
		--no-install-recommends $miss >&2
}

# A deb-src entry for every enabled bookworm `deb` entry, unless apt has any.
# Reads both formats: one-line sources.list files and deb822 .sources files.
ensure_deb_src() {
	local dir=/etc/apt lists out=/etc/apt/sources.list.d/vigil-static-src
	lists=$(find "$dir" -maxdepth 2 \( -name '*.list' -o -name '*.sources' \) 2>/dev/null | sort)
	# shellcheck disable=SC2086 # file names without blanks
	if [[ -n $lists ]] && grep -Eqs '^[[:space:]]*(deb-src[[:space:]]|Types:.*deb-src)' $lists; then
		return 0
	fi
	((EUID == 0)) || die "apt has no deb-src entry (add one for bookworm, bookworm-updates and bookworm-security, or run as root)"
	# shellcheck disable=SC2086
	awk 'BEGIN { RS = ""; ORS = "\n\n" }
	     /(^|\n)Types:[^\n]*[ \t]deb([ \t]|\n|$)/ &&
	     /bookworm/ && !/(^|\n)Enabled: *no/ { sub(/Types:[^\n]*/, "Types: deb-src"); print }' \
		$(printf '%s\n' $lists | grep '\.sources$' || true) >"$out.sources.tmp"
	# shellcheck disable=SC2086
	sed -n 's/^[[:space:]]*deb[[:space:]]\(.*bookworm.*\)/deb-src \1/p' \
		$(printf '%s\n' $lists | grep '\.list$' || true) /dev/null >"$out.list.tmp"
	[[ -s $out.sources.tmp || -s $out.list.tmp ]] ||
		die "no enabled bookworm 'deb' entry in /etc/apt to derive a deb-src entry from"
	for f in sources list; do
		if [[ -s $out.$f.tmp ]]; then mv "$out.$f.tmp" "$out.$f"; else rm -f "$out.$f.tmp"; fi
	done
	say "added deb-src entries: $(ls "$out".* | tr '\n' ' ')"
	NEED_UPDATE=1
}

# The versions of source package $1 that the mirror lists, newest first.
mirror_versions() {
	apt-cache showsrc --only-source "$1" 2>/dev/null | awk '/^Version:/ { print $2 }' |
		sort -u | sort -r -V
}

# Check every pin against the mirror's Sources lists. A pin that is gone
# fails with the file, the pin and what the mirror offers, or, with
# VIGIL_STATIC_UNPINNED=1, is replaced by the newest version listed.
check_pins() {
	local name offered bad=0
	for name in "${!PIN[@]}"; do
		offered=$(mirror_versions "$name" | tr '\n' ' ')
		[[ " $offered " == *" ${PIN[$name]} "* ]] && continue
		if [[ -z ${offered// /} ]]; then
			say "ERROR: the mirror lists no source package $name (deb-src entries, apt-get update?)"
			bad=1
		elif [[ ${VIGIL_STATIC_UNPINNED:-} == 1 ]]; then
			say "WARN: $PINS pins $name ${PIN[$name]}, not on the mirror; building ${offered%% *} (VIGIL_STATIC_UNPINNED=1)"
			PIN[$name]=${offered%% *}
		else
			say "ERROR: $PINS pins $name ${PIN[$name]}, which the mirror no longer offers;" \
				"it offers: $offered- update the pin (or VIGIL_STATIC_UNPINNED=1 for one build)"
			bad=1
		fi
	done
	((bad == 0)) || exit 1
}

# ---------------------------------------------------------------------------
# The cache. KEY covers every input of the library builds that can change
# their result: the pins, this script (less its comment lines: a comment
# edit rebuilds nothing), and the compiler.
cache_key() {
	{
		for name in $(printf '%s\n' "${!PIN[@]}" | sort); do echo "$name ${PIN[$name]}"; done
		grep -v '^[[:space:]]*#' "$SELF" | sha256sum
		cc -dumpfullversion 2>/dev/null || echo "no cc yet"
		uname -m
	} | sha256sum | cut -c1-16
}

BASE=${VIGIL_STATIC_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vigil/static}

# ---------------------------------------------------------------------------
# Library builds. Each runs in $WORK/<package>-<version>/ (unpacked by
# apt-get source, Debian's patches applied) and installs into $PREFIX.
# Debian's hardening flags, less -g (smaller archives; vigil keeps its own).
lib_env() {
	CFLAGS=$(DEB_CFLAGS_MAINT_STRIP=-g dpkg-buildflags --get CFLAGS)
	CPPFLAGS="$(dpkg-buildflags --get CPPFLAGS) -I$PREFIX/include"
	LDFLAGS="-L$PREFIX/lib"
	export CFLAGS CPPFLAGS LDFLAGS
	export PKG_CONFIG_PATH=$PREFIX/lib/pkgconfig
	# Library builds run their own make; none inherits an outer make's flags.
	unset MAKEFLAGS MFLAGS MAKELEVEL
}

# The unpacked source tree of $1 (apt-get source names it NAME-UPSTREAMVER).
fetch_src() {
	local name=$1 ver=${PIN[$1]} dir
	if ! (cd "$WORK" && apt-get source -qq "$name=$ver" >"$WORK/$name.fetch.log" 2>&1); then
		sed 's/^/  /' "$WORK/$name.fetch.log" >&2
		die "apt-get source $name=$ver failed; the mirror lists: $(mirror_versions "$name" | tr '\n' ' ')- a listed version whose files are not served needs another pin in $PINS"
	fi
	dir=$(find "$WORK" -mindepth 1 -maxdepth 1 -type d -name "$name-*" | head -n1)
	[[ -n $dir ]] || die "apt-get source $name=$ver unpacked nothing"
	echo "$dir"
}

# libpq, and the libpgcommon/libpgport archives its .pc file names.
build_libpq() {
	local src
	src=$(fetch_src postgresql-15)
	(
		cd "$src"
		./configure --prefix="$PREFIX" --with-openssl --without-readline --without-zlib \
			--without-icu --without-gssapi --without-ldap --without-pam --without-systemd \
			--without-libxml --without-libxslt --without-lz4 --without-zstd --without-selinux \
			--without-llvm --without-perl --without-python --without-tcl --disable-nls \
			--disable-rpath
		make -j"$JOBS" -C src/interfaces/libpq
		make -C src/interfaces/libpq install
		make -C src/include install
		# libpq.pc names -lpgcommon -lpgport. Not `make install` there:
		# Debian's patch forces their pkglibdir to the system's
		# /usr/lib/postgresql/15/lib whatever the prefix.
		make -j"$JOBS" -C src/common
		make -j"$JOBS" -C src/port
		install -m 0644 src/common/libpgcommon.a src/port/libpgport.a "$PREFIX/lib/"
	)
}

# libcurl for HTTP(S) and SMTP(S) over OpenSSL.
build_curl() {
	local src p
	src=$(fetch_src curl)
	(
		cd "$src"
		# Debian's series ends with the patches that make the GnuTLS and NSS
		# flavours (libcurl-gnutls, libcurl-nss); the OpenSSL one is built
		# without them, as debian/rules does with `quilt pop`.
		for p in 99_nss.patch 90_gnutls.patch; do
			patch -R -p1 -s <debian/patches/$p
		done
		autoreconf -fi
		./configure --prefix="$PREFIX" --disable-shared --enable-static --with-openssl \
			--without-ca-bundle --without-ca-path --without-ca-fallback --enable-ipv6 \
			--enable-http --enable-smtp --disable-ftp --disable-file --disable-ldap \
			--disable-ldaps --disable-rtsp --disable-dict --disable-telnet --disable-tftp \
			--disable-pop3 --disable-imap --disable-smb --disable-gopher --disable-mqtt \
			--disable-manual --disable-ntlm-wb --without-zlib --without-brotli --without-zstd \
			--without-libidn2 --without-libpsl --without-nghttp2 --without-ngtcp2 \
			--without-nghttp3 --without-quiche --without-msh3 --without-hyper \
			--without-libssh --without-libssh2 --without-wolfssh --without-librtmp \
			--without-gssapi --without-libgsasl --without-zsh-functions-dir \
			--without-fish-functions-dir
		make -j"$JOBS" -C lib
		make -C lib install
		make -C include install
		make install-pkgconfigDATA install-binSCRIPTS
	)
	# What was asked for is what was built (a configure that silently picks
	# a library up would show here).
	[[ $("$PREFIX/bin/curl-config" --protocols | sort | tr '\n' ' ') == "HTTP HTTPS SMTP SMTPS " ]] ||
		die "libcurl protocols: $("$PREFIX/bin/curl-config" --protocols | tr '\n' ' ')"
}

# libarchive: tar/pax read, pax write, write_disk; no external library.
build_libarchive() {
	local src
	src=$(fetch_src libarchive)
	(
		cd "$src"
		autoreconf -fi
		./configure --prefix="$PREFIX" --disable-shared --enable-static --disable-bsdtar \
			--disable-bsdcpio --disable-bsdcat --disable-acl --disable-xattr --without-zlib \
			--without-bz2lib --without-libb2 --without-lz4 --without-zstd --without-lzma \
			--without-cng --without-openssl --without-xml2 --without-expat --without-nettle \
			--without-mbedtls --without-lzo2
		make -j"$JOBS" libarchive.la
		make install-libLTLIBRARIES install-includeHEADERS install-pkgconfigDATA
	)
}

# libmicrohttpd without HTTPS.
build_libmicrohttpd() {
	local src
	src=$(fetch_src libmicrohttpd)
	(
		cd "$src"
		./configure --prefix="$PREFIX" --disable-shared --enable-static --disable-https \
			--without-gnutls --disable-doc --disable-examples --disable-curl --disable-nls
		make -j"$JOBS" -C src/microhttpd
		make -C src/microhttpd install
		make -C src/include install
		make install-pkgconfigDATA
	)
}

# cjson: one file. Debian builds it with CMake; its library is cJSON.c
# alone, with the same include layout and .pc file as Debian's libcjson-dev.
build_cjson() {
	local src ver
	src=$(fetch_src cjson)
	ver=${PIN[cjson]%%-*}
	(
		cd "$src"
		# shellcheck disable=SC2086 # CFLAGS is a list of flags
		cc $CPPFLAGS $CFLAGS -std=c89 -c -o cJSON.o cJSON.c
		ar rcs libcjson.a cJSON.o
		install -D -m 0644 libcjson.a "$PREFIX/lib/libcjson.a"
		install -D -m 0644 cJSON.h "$PREFIX/include/cjson/cJSON.h"
		mkdir -p "$PREFIX/lib/pkgconfig"
		cat >"$PREFIX/lib/pkgconfig/libcjson.pc" <<-EOF
			libdir=$PREFIX/lib
			includedir=$PREFIX/include

			Name: libcjson
			Version: $ver
			Description: Ultralightweight JSON parser in ANSI C (static, vigil)
			Libs: -L\${libdir} -lcjson
			Libs.private: -lm
			Cflags: -I\${includedir} -I\${includedir}/cjson
		EOF
	)
}

# Build every library into $PREFIX unless its stamp says it is done. A
# failed run keeps the finished ones (same key, same inputs) for the next.
build_libs() {
	local lib log rc
	for lib in libpq curl libarchive libmicrohttpd cjson; do
		[[ -e $PREFIX/.done-$lib ]] && continue
		log=$WORK/$lib.log
		say "building $lib (log: $log)"
		rm -rf "${WORK:?}"/*/
		# Not `if ! build`: errexit would be off inside the build.
		set +e
		(
			set -e
			lib_env
			"build_$lib"
		) >"$log" 2>&1
		rc=$?
		set -e
		if ((rc != 0)); then
			tail -n 40 "$log" >&2
			die "building $lib failed; the whole log: $log"
		fi
		touch "$PREFIX/.done-$lib"
	done
	# Shared objects never belong here: a -static link must find only .a.
	find "$PREFIX/lib" -maxdepth 1 \( -name '*.so' -o -name '*.so.*' -o -name '*.la' \) -delete
}

# ---------------------------------------------------------------------------
# deps: make sure $PREFIX (= $BASE/$KEY) is complete.
deps() {
	local key
	key=$(cache_key)
	PREFIX=$BASE/$key
	if [[ -e $PREFIX/.complete ]]; then
		say "libraries cached in $PREFIX"
		ensure_pkgs "${LINK_PKGS[@]}"
		return 0
	fi
	# deb-src first, so that one `apt-get update` serves both.
	ensure_deb_src
	ensure_pkgs "${BUILD_PKGS[@]}"
	if ((NEED_UPDATE)); then apt_update_once; fi
	# Sources lists present? (apt has not read the deb-src entries yet)
	if [[ -z $(mirror_versions cjson) ]] && ((EUID == 0 && !UPDATED)); then
		apt_update_once
	fi
	check_pins
	# With VIGIL_STATIC_UNPINNED a version may have changed: key again. The
	# compiler may also have just been installed.
	key=$(cache_key)
	PREFIX=$BASE/$key
	mkdir -p "$BASE"
	# One build of a key at a time (two `make static` at once wait here).
	exec 9>"$BASE/.lock"
	flock 9
	if [[ -e $PREFIX/.complete ]]; then
		say "libraries cached in $PREFIX"
		exec 9>&-
		return 0
	fi
	# Installed straight into the final path, which the .pc files and
	# curl-config name; only the .complete stamp makes it a cache hit.
	WORK=$PREFIX.work
	mkdir -p "$WORK" "$PREFIX"
	for name in $(printf '%s\n' "${!PIN[@]}" | sort); do echo "$name ${PIN[$name]}"; done >"$PREFIX/VERSIONS"
	build_libs
	touch "$PREFIX/.complete"
	rm -rf "$WORK"
	exec 9>&-
	say "libraries built into $PREFIX"
}

# ---------------------------------------------------------------------------
# Link vigil: the Makefile's STATIC=1 build (its objects under
# build-static/obj, -DVIGIL_STATIC=1, pkg-config --static, -static).
link_vigil() {
	local bin=$ROOT/build-static/vigil
	export PKG_CONFIG_PATH=$PREFIX/lib/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}
	make -C "$ROOT" -j"$JOBS" STATIC=1 B=build-static ${GITREV:+GITREV="$GITREV"} build-static/vigil
	# The promise of this script, checked: static, and no interpreter.
	file "$bin" | grep -q 'statically linked' || die "$bin is not statically linked: $(file "$bin")"
	if readelf -lW "$bin" | grep -Eq 'INTERP|DYNAMIC'; then
		die "$bin has a program interpreter or a dynamic section"
	fi
	say "built $bin ($(du -h "$bin" | cut -f1))"
}

deps
[[ $MODE == deps ]] || link_vigil
