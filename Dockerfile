# Inlet in a FROM scratch image: one static binary (CGO_ENABLED=0; the SQLite
# and PostgreSQL drivers are pure Go), CA certificates for PostgreSQL over
# TLS, and /data for the SQLite file, the generated admin token and the lock.
#
#   docker build -t inlet .
#   docker run -p 8686:8686 -v inlet-data:/data inlet
#
# Where the golang base image cannot be pulled, build the binary on the host
# with scripts/build-static.sh and use Dockerfile.scratch, which starts from
# that binary instead.

FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 GOOS=linux go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/inlet ./cmd/inlet \
	&& /out/inlet version \
	&& mkdir -p /out/data

FROM scratch
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /out/inlet /inlet
COPY --from=build --chown=65532:65532 /out/data /data
# SQLite's temporary files go beside the database: scratch has no /tmp.
ENV TMPDIR=/data
USER 65532:65532
VOLUME /data
EXPOSE 8686
ENTRYPOINT ["/inlet"]
CMD ["serve", "--addr", "0.0.0.0:8686", "--data", "/data"]
