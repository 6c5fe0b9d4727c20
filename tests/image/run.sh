#!/bin/bash
# `make check-image`: vigil's image in a real Docker engine. Installs the
# host tools the tests use when missing (docker-compose, curl, bc, file,
# binutils, gpg...: as root, by Debian package name), makes the base
# images when missing (scripts/base-images.sh; kept in the engine between
# runs), builds the image from the repository's Dockerfile (the layer cache
# makes a second build quick), then runs every tests/image/t_*.sh, or those
# named as arguments (t_compose, compose), each under `timeout` (IMAGE_TIMEOUT,
# default 600 s), output in build/image-logs/NAME.log; a failure prints the
# last 40 lines. The last line is "image: N passed, N failed"; exit 0 only
# if none failed. IMAGE_NO_BUILD=1 with VIGIL_IMAGE=tag tests an image that
# is already built.
set -u
cd "$(dirname "$0")/../.." || exit 1
LOGS=${IMAGE_LOGS:-$PWD/build/image-logs}
mkdir -p "$LOGS"
start_all=$SECONDS

if ! docker info >/dev/null 2>&1; then
	echo "image: no Docker engine (docker info failed)" >&2
	echo "image: 0 passed, 1 failed"
	exit 1
fi

# The host tools the tests use, installed by package name when missing (as
# root; a fresh CI machine has the engine but not necessarily these).
declare -A TOOL_PKG=([docker-compose]=docker-compose [curl]=curl [bc]=bc [file]=file
	[readelf]=binutils [gpg]=gpg [script]=bsdutils [setpriv]=util-linux [sha256sum]=coreutils)
missing=()
for t in "${!TOOL_PKG[@]}"; do
	command -v "$t" >/dev/null 2>&1 || missing+=("${TOOL_PKG[$t]}")
done
if ((${#missing[@]} > 0)); then
	echo "# installing ${missing[*]}"
	if [[ $(id -u) != 0 ]] || ! {
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
			"${missing[@]}" </dev/null >/dev/null 2>&1 ||
			{ apt-get update -q >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive \
				apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null >/dev/null; }
	}; then
		echo "image: 0 passed, 1 failed (missing host tools: install ${missing[*]})"
		exit 1
	fi
fi

t0=$SECONDS
if ! bash scripts/base-images.sh; then
	echo "image: 0 passed, 1 failed (base images)"
	exit 1
fi
echo "# base images ready in $((SECONDS - t0)) s"

export VIGIL_IMAGE=${VIGIL_IMAGE:-vigil:check-image}
if [[ ${IMAGE_NO_BUILD:-0} != 1 ]]; then
	t0=$SECONDS
	rev=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
	if ! docker build -t "$VIGIL_IMAGE" --build-arg VIGIL_BUILD="$rev" \
		--build-arg VIGIL_VERSION="$(cat VERSION)" . >"$LOGS/build.log" 2>&1; then
		tail -n 40 "$LOGS/build.log"
		echo "image: 0 passed, 1 failed (docker build, see $LOGS/build.log)"
		exit 1
	fi
	echo "# docker build $VIGIL_IMAGE in $((SECONDS - t0)) s"
fi
docker image ls "$VIGIL_IMAGE" --format '# {{.Repository}}:{{.Tag}} {{.Size}}'

tests=()
if (($# > 0)); then
	for a in "$@"; do
		a=$(basename "$a" .sh)
		tests+=("tests/image/t_${a#t_}.sh")
	done
else
	tests=(tests/image/t_*.sh)
fi

passed=0
failed=0
for t in "${tests[@]}"; do
	name=$(basename "$t" .sh)
	log=$LOGS/$name.log
	t0=$SECONDS
	if [[ -f $t ]] && timeout -k 10 "${IMAGE_TIMEOUT:-600}" bash "$t" >"$log" 2>&1; then
		echo "ok   $name ($((SECONDS - t0)) s)"
		passed=$((passed + 1))
	else
		rc=$?
		[[ -f $t ]] || echo "no such test: $t" >"$log"
		echo "FAIL $name (exit $rc, $((SECONDS - t0)) s)"
		tail -n 40 "$log" | sed 's/^/    /'
		failed=$((failed + 1))
	fi
done
echo "# check-image took $((SECONDS - start_all)) s"
echo "image: $passed passed, $failed failed"
((failed == 0))
