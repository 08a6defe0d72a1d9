# syntax=docker/dockerfile:1
#
# Cold-chain alert relay. Built by deploy/monitoring/docker-compose.monitoring.yml
# or by hand:  docker build -t coldchain/alert-relay .
#
# Override NODE_IMAGE with a digest (node:20-bookworm-slim@sha256:...) for
# reproducible release builds; all three stages share it so the native optional
# packages resolved in one stage match the runtime of the last.
ARG NODE_IMAGE=node:20-bookworm-slim

# --- build: dev dependencies and the TypeScript compile; none of it ships.
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts, as npm 11 does by default: esbuild and TypeScript come as
# prebuilt platform packages, and msgpackr-extract (an optional speed-up of
# bullmq's msgpackr) is not needed. Nothing is compiled at install time.
RUN npm ci --ignore-scripts --no-audit --no-fund
# The rest of the context after the install, so a source change does not redo it
# (.dockerignore keeps node_modules, tests and deploy/ out). templates/ and config/
# are created when absent, so the runtime stage can copy them unconditionally.
COPY . .
RUN npm run build \
 && mkdir -p templates config

# --- production dependencies only, in their own stage so the runtime image gets
# a clean node_modules without the compiler, test tools or npm's cache.
FROM ${NODE_IMAGE} AS prod-deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && npm cache clean --force

# --- runtime
FROM ${NODE_IMAGE} AS runtime
# tini as PID 1: forwards SIGTERM so the relay can drain its workers and close
# Redis cleanly on `docker stop`, and reaps zombies; node as PID 1 does neither.
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/*

ENV NODE_ENV=production HOST=0.0.0.0 PORT=8081
WORKDIR /app

# Owned by root and read-only for the relay: a compromised process cannot
# rewrite its own code. Only the outbox (preview mode) is writable.
COPY --from=prod-deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
# Message templates and the default context catalog and fleet (config/*.yaml),
# which dist/ finds at ../config relative to itself.
COPY --from=build /app/templates ./templates
COPY --from=build /app/config ./config
# The payloads `node dist/cli/demo.js` posts (npm run demo), which dist/ finds at ../examples.
COPY --from=build /app/examples/payloads ./examples/payloads
RUN mkdir -p /app/outbox && chown node:node /app/outbox

USER node
EXPOSE 8081

# The slim image has no curl; node's fetch does the same, with a timeout so a
# hung event loop counts as unhealthy rather than as a stuck check.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8081)+'/healthz',{signal:AbortSignal.timeout(4000)}).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]

ENTRYPOINT ["/usr/bin/tini", "--"]
# --optimize-for-size: V8 collects sooner, so native memory tied to garbage (finished sockets) is returned
# after a burst instead of held (BENCHMARKS.md, soak: peak RSS 309 MB without it, 129 MB with it).
CMD ["node", "--optimize-for-size", "dist/main.js"]
