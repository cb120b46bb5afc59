# syntax=docker/dockerfile:1
# Multi-stage build: a full Rust image compiles (SQLite, libpq and OpenSSL are built from the
# bundled sources, so no -dev packages are needed), a slim Debian image runs as a non-root user.
#
#   docker build -t ikz-api .
#   docker run -p 8080:8080 -v ikz-data:/data ikz-api                       # SQLite in the volume
#   docker run -p 8080:8080 -e DATABASE_URL=postgres://user:pass@db/ikz ikz-api  # PostgreSQL
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY .cargo ./.cargo
COPY src ./src
COPY migrations ./migrations
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    cargo build --release --locked --bin ikz-api \
 && strip target/release/ikz-api

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin ikz \
 && mkdir -p /data && chown ikz:ikz /data
COPY --from=build /src/target/release/ikz-api /usr/local/bin/ikz-api
USER ikz
WORKDIR /data
# DATABASE_URL: a SQLite file in the /data volume by default; set postgres://… for PostgreSQL.
ENV DATABASE_URL=/data/ikz.db \
    IKZ_BIND=0.0.0.0:8080 \
    RUST_LOG=info
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 CMD ["ikz-api", "healthcheck"]
ENTRYPOINT ["ikz-api"]
CMD ["serve"]
