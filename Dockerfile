# Weir in a container, for the docker-compose*.yml demos: the control server and `weir` CLI, the
# Wasm filters built inside the image, and the demo clients. Built from this checkout (the build
# context); nothing is mounted from it or written into it.
#
#   docker build -t weir .                       weir serve, weir bootstrap, ... (node bin/weir.js)
#   docker build --target weir-cqlsh -t weir-cqlsh .   the same plus cqlsh, for the Empire demo
#   docker build --target weir-iptables -t weir-iptables .   plus iptables, for the sidecar demo
#
# NODE_IMAGE only exists so that the tests, which reach no image registry, can build on a node
# image made on the machine (test/compose/local-images.ts); users keep the default.
ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS weir
WORKDIR /weir
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund && npm cache clean --force
COPY tsconfig.json ./
COPY scripts/build-filters.mjs scripts/
COPY filters/ filters/
RUN npm run build:filters -- --release-only
COPY bin/ bin/
COPY protos/ protos/
COPY server/ server/
COPY demo/ demo/
COPY examples/ examples/
CMD ["node", "bin/weir.js", "--help"]

# Debian's iptables (the nft backend `weir sidecar iptables` drives) and iproute2, for the fleet demo
# with Weir as memcached's sidecar (docker-compose.fleet-sidecar.yml): its init container installs the
# capture rules, and its ships take their own addresses on the demo container's interface. Before
# weir-cqlsh: Docker's classic builder (no BuildKit) builds every stage up to the target.
FROM weir AS weir-iptables
RUN apt-get update \
 && apt-get install -y --no-install-recommends iptables iproute2 \
 && rm -rf /var/lib/apt/lists/*

# cqlsh from PyPI into /weir/.venv, where the Empire demo looks for it (as `npm run setup` puts it).
FROM weir AS weir-cqlsh
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3-venv \
 && rm -rf /var/lib/apt/lists/* \
 && python3 -m venv .venv \
 && .venv/bin/pip install --no-cache-dir --disable-pip-version-check cqlsh
