# syntax=docker/dockerfile:1
# Build: docker build --build-arg VERSION=$(git describe --tags --always --dirty) -t fieldsync .
#
# Base images are pinned by digest; the tag beside it says which release
# the digest is, and both change together. Each digest is the one Renovate
# read from the registry for that tag:
#   golang:1.26.2-bookworm         codize-dev/sandbox#56 and agntcy/dir#1411 (April 2026)
#   distroless/static-debian12:nonroot  openmcp-project/mcp-operator#248 (December 2025)
# go.mod asks for a later Go 1.26 than the image's: the go command fetches
# that toolchain (GOTOOLCHAIN=auto; the image sets local), checked against
# the Go checksum database, into the module cache below.

# Build: a static binary (the embedded store's SQLite is pure Go, no cgo).
FROM golang:1.26.2-bookworm@sha256:47ce5636e9936b2c5cbf708925578ef386b4f8872aec74a67bd13a627d242b19 AS build
ARG VERSION=dev
ENV GOTOOLCHAIN=auto
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod \
    go mod download
COPY . .
# The caches (modules, GOMODCACHE; compiled packages, GOCACHE) outlive the
# build, so a rebuild compiles only what changed. The version is stamped;
# the commit is not read (-buildvcs=false: the context has no .git).
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 go build -trimpath -buildvcs=false -ldflags="-s -w -X main.version=${VERSION}" -o /out/fieldsync ./server \
 && mkdir -p /out/data

# Run: no shell, no package manager, not root.
FROM gcr.io/distroless/static-debian12:nonroot@sha256:2b7c93f6d6648c11f0e80a48558c8f77885eb0445213b8e69a6a0d7c89fc6ae4
COPY --from=build /out/fieldsync /fieldsync
COPY --from=build --chown=65532:65532 /out/data /data
# Inside the container every interface; publishing the port decides who reaches it.
ENV FIELDSYNC_DATA_DIR=/data FIELDSYNC_PORT=8080 FIELDSYNC_BIND_ADDR=0.0.0.0
VOLUME ["/data"]
EXPOSE 8080
USER 65532:65532
# No curl in the image: the program asks its own /readyz.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 CMD ["/fieldsync", "healthcheck"]
ENTRYPOINT ["/fieldsync"]
