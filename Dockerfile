# keycard: a static binary on distroless, running as non-root.
#   docker build -t keycard .
#   docker run -p 8080:8080 -e KEYCARD_ENV=production -e KEYCARD_JWT_SECRET=... \
#     -e KEYCARD_PUBLIC_URL=https://auth.example.com keycard
# .ci/run builds the binary with the same command as the build stage below
# (it checks that this file still contains it).

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# .git is not in the build context: the commit comes in as an argument,
#   docker build --build-arg VERSION=1.0.0 --build-arg COMMIT="$(git rev-parse HEAD)" .
ARG VERSION=dev
ARG COMMIT=unknown
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION} -X main.commit=${COMMIT}" -o /out/keycard .
# The embedded SQLite default needs a directory the non-root user owns.
RUN mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/keycard /keycard
COPY --from=build --chown=nonroot:nonroot /out/data /data
USER nonroot:nonroot
WORKDIR /data
ENV KEYCARD_ADDR=:8080 \
    KEYCARD_METRICS_ADDR=:9090 \
    KEYCARD_DATABASE_URL=sqlite:/data/keycard.db \
    KEYCARD_LOG_FORMAT=json
EXPOSE 8080 9090
VOLUME /data
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s CMD ["/keycard", "healthcheck"]
ENTRYPOINT ["/keycard"]
