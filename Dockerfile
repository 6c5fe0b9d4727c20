# vigil's image: a fully static vigil (`make static`) as PID 1 in
# debian:bookworm-slim with the PostgreSQL client, tzdata and CA certificates.
#
#   docker build -t vigil --build-arg VIGIL_BUILD=$(git rev-parse --short HEAD) \
#       --build-arg VIGIL_VERSION=$(cat VERSION) .
#
# Build arguments:
#   PG_MAJOR       the PostgreSQL client major (default 15). pg_dump must be at
#                  least as new as the server, so use the server's major. Debian
#                  bookworm itself carries only postgresql-client-15; any other
#                  major needs the PGDG apt repository (apt.postgresql.org) added
#                  to the runtime stage before the apt-get install below.
#   VIGIL_BUILD    the git revision `vigil version` reports (the build context
#                  has no .git); VIGIL_VERSION the version for the OCI label
#                  (the binary takes its own from the VERSION file).

# ---- build stage: the static binary ------------------------------------
FROM debian:bookworm-slim AS build
RUN apt-get update \
	&& DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends make \
	&& rm -rf /var/lib/apt/lists/*
WORKDIR /src
# The static libraries first, from the script alone: a change under src/
# reuses this layer and only recompiles vigil.
# (static.sh and its version pins, scripts/static-versions)
COPY scripts/static* scripts/
RUN scripts/static.sh deps
COPY . .
ARG VIGIL_BUILD=unknown
RUN make static GITREV="$VIGIL_BUILD" && build-static/vigil version

# ---- runtime stage ------------------------------------------------------
FROM debian:bookworm-slim
ARG PG_MAJOR=15
RUN apt-get update \
	&& DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
		postgresql-client-$PG_MAJOR tzdata ca-certificates \
	&& rm -rf /var/lib/apt/lists/*
# vigil runs pg_dump, psql and pg_restore from PATH: the client of PG_MAJOR
# first (not Debian's pg_wrapper in /usr/bin, which picks a version itself).
ENV PATH=/usr/lib/postgresql/$PG_MAJOR/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
	BACKUP_DIR=/backups \
	LOG_DIR=/logs \
	MEDIA_DIR=/media \
	HTTP_LISTEN=0.0.0.0:8080
COPY --from=build /src/build-static/vigil /usr/local/bin/vigil
COPY entrypoint healthcheck /
RUN mkdir -p /backups /logs /media && vigil version >/dev/null
VOLUME ["/backups", "/logs", "/media"]
EXPOSE 8080
# vigil stops a running backup and exits within about 5 s of SIGTERM
# (README, "The daemon"); compose's stop_grace_period leaves room for it.
STOPSIGNAL SIGTERM
# interval 30s: the health changes with daily runs, so a check every 30 s is
#   plenty and costs one short process; Docker 20.10 runs the first check
#   only one interval after start.
# timeout 10s: above `vigil healthcheck`'s own timeout, so vigil, not
#   Docker, reports an unanswered /healthz (with the reason in the log).
# start-period 60s: covers the start-up pre-flight (connecting to the
#   database, 10 s connect timeout, plus `pg_dump --version`) and a db that is
#   still starting; failures inside it do not count.
# retries 3: unhealthy after three failed checks in a row (~90 s), not
#   after one slow answer.
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 CMD ["/healthcheck"]
# Runs as root by default: reading every media file whatever its owner and
# restoring owners and modes need it. To run unprivileged, set
# `user: "1000:1000"` (compose) with BACKUP_DIR/LOG_DIR writable and
# MEDIA_DIR readable by that user (README, Docker quick start).
ENTRYPOINT ["/entrypoint"]
CMD ["serve"]
ARG VIGIL_BUILD=unknown
ARG VIGIL_VERSION=unknown
LABEL org.opencontainers.image.title="vigil" \
	org.opencontainers.image.description="Backup sidecar for PostgreSQL and a media directory: scheduled pg_dump and tar backups with checksums, retention, restore, /healthz and /metrics" \
	org.opencontainers.image.version="$VIGIL_VERSION" \
	org.opencontainers.image.revision="$VIGIL_BUILD" \
	org.opencontainers.image.base.name="debian:bookworm-slim"
# No org.opencontainers.image.source or .licenses: the project names no
# public repository and no licence yet.
