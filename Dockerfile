# syntax=docker/dockerfile:1
# Build stage: compile onair in release mode.
FROM rust:1-slim-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY commands ./commands
COPY locales ./locales
# Declared in Cargo.toml, so cargo wants it present even for --bin onair.
COPY benches ./benches
COPY migrations ./migrations
RUN cargo build --release --locked --bin onair

# Runtime stage: a slim image running as a non-root user.
FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates tini \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /data --create-home onair
COPY --from=build /src/target/release/onair /usr/local/bin/onair
USER onair
WORKDIR /data
# /healthz, /readyz and /metrics on every interface of the container.
ENV DATABASE_URL=sqlite:///data/onair.db \
    HTTP_ADDR=0.0.0.0:9090 \
    RUST_LOG=info
EXPOSE 9090
VOLUME ["/data"]
ENTRYPOINT ["/usr/bin/tini", "--", "/usr/local/bin/onair"]
CMD ["run"]
