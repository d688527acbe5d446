# syntax=docker/dockerfile:1
# Build: a static binary (the embedded store's SQLite is pure Go, no cgo).
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/fieldsync ./server \
 && mkdir -p /out/data

# Run: no shell, no package manager, not root.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/fieldsync /fieldsync
COPY --from=build --chown=65532:65532 /out/data /data
# Inside the container every interface; publishing the port decides who reaches it.
ENV DATA_DIR=/data PORT=8080 BIND_ADDR=0.0.0.0
VOLUME ["/data"]
EXPOSE 8080
USER 65532:65532
ENTRYPOINT ["/fieldsync"]
