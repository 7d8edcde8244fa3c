# syntax=docker/dockerfile:1
# Granary's three binaries (granary-server, granary-verify, granary) in one small image.
# Dependencies are compiled in their own layer (cargo-chef), so a change to Granary's
# sources rebuilds only Granary's crates.

ARG RUST_VERSION=1.95.0

FROM rust:${RUST_VERSION}-bookworm AS chef
RUN cargo install cargo-chef --locked --version ^0.1
WORKDIR /src

# The dependency recipe: Cargo.toml/Cargo.lock of every workspace member, no sources.
FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

FROM chef AS builder
COPY --from=planner /src/recipe.json recipe.json
RUN cargo chef cook --release --locked --recipe-path recipe.json \
    --bin granary-server --bin granary-verify --bin granary
COPY . .
RUN cargo build --release --locked --bin granary-server --bin granary-verify --bin granary

FROM debian:bookworm-slim AS runtime
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --create-home --home-dir /var/lib/granary granary
COPY --from=builder /src/target/release/granary-server /src/target/release/granary-verify /src/target/release/granary /usr/local/bin/
# Migrations, web templates and static files are compiled into granary-server. The data
# directory holds only the embedded database and store (unused when the URLs below point
# elsewhere) and the workers' scratch space.
ENV GRANARY_DATA_DIR=/var/lib/granary \
    GRANARY_LISTEN=0.0.0.0:8080 \
    GRANARY_VERIFIER=/usr/local/bin/granary-verify
USER granary
WORKDIR /var/lib/granary
EXPOSE 8080
ENTRYPOINT ["granary-server"]
CMD ["serve"]
