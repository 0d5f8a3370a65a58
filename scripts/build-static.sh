#!/usr/bin/env bash
# Builds a static inlet binary (CGO_ENABLED=0: the SQLite and PostgreSQL
# drivers are pure Go) into dist/, with what a FROM scratch image needs
# beside it, and checks that it is static and runs. With a Docker daemon
# that answers, also builds the image of Dockerfile.scratch.
#
#   bash scripts/build-static.sh            # dist/inlet, dist/ca-certificates.crt, dist/data/
#   INLET_IMAGE=inlet:dev bash scripts/build-static.sh   # the image's tag (default inlet:latest)
set -euo pipefail
cd "$(dirname "$0")/.."

version=$(git describe --tags --always --dirty 2>/dev/null || echo dev)
rm -rf dist
mkdir -p dist/data
CGO_ENABLED=0 GOOS=linux go build -trimpath -ldflags "-s -w -X main.version=$version" -o dist/inlet ./cmd/inlet

# Static: no dynamic section, and built without cgo.
if go version -m dist/inlet | grep -q 'CGO_ENABLED=1'; then
	echo "FATAL: dist/inlet was built with cgo" >&2
	exit 1
fi
if command -v readelf >/dev/null && readelf -d dist/inlet 2>/dev/null | grep -q NEEDED; then
	echo "FATAL: dist/inlet needs shared libraries:" >&2
	readelf -d dist/inlet | grep NEEDED >&2
	exit 1
fi
# It runs, with nothing around it (env -i: no PATH, no HOME, as in the image).
out=$(env -i ./dist/inlet version)
case "$out" in
"inlet $version "*) echo "built dist/inlet: $out" ;;
*)
	echo "FATAL: dist/inlet version printed: $out" >&2
	exit 1
	;;
esac

# CA certificates, for PostgreSQL over TLS (sslmode=require or verify-full).
for f in /etc/ssl/certs/ca-certificates.crt /etc/pki/tls/certs/ca-bundle.crt; do
	if [ -f "$f" ]; then
		cp "$f" dist/ca-certificates.crt
		break
	fi
done
[ -f dist/ca-certificates.crt ] || : >dist/ca-certificates.crt

if command -v docker >/dev/null && docker info >/dev/null 2>&1; then
	docker build -f Dockerfile.scratch -t "${INLET_IMAGE:-inlet:latest}" .
	docker run --rm "${INLET_IMAGE:-inlet:latest}" version
else
	echo "no Docker daemon answers: the image of Dockerfile.scratch is not built (dist/ is ready for it)"
fi
