# genai-ledger container image: `docker compose up` (see docker-compose.yml and README.md).
# The image carries what runs and nothing else: tsconfig.build.json compiles core, src, receivers, processors and
# exporters without tests, test helpers or benchmarks, and dev dependencies are pruned.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY core ./core
COPY src ./src
COPY receivers ./receivers
COPY processors ./processors
COPY exporters ./exporters
RUN npx tsc -p tsconfig.build.json \
  && chmod 0755 dist/src/cli/main.js \
  && npm prune --omit=dev

FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY examples ./examples
# Runs as the image's unprivileged `node` user (uid 1000). /data holds the ledger and /run/genai-ledger the
# bearer token; a fresh named volume mounted there takes this ownership.
RUN mkdir -p /data /run/genai-ledger && chown node:node /data /run/genai-ledger
USER node
VOLUME ["/data"]
# 4317 OTLP/gRPC, 4318 OTLP/HTTP, 9464 /metrics, /healthz, /readyz
EXPOSE 4317 4318 9464
# In a container the receivers must listen on all interfaces; outside one the default stays 127.0.0.1.
ENTRYPOINT ["node", "--max-semi-space-size=64", "dist/src/cli/main.js"]
CMD ["serve", "--host", "0.0.0.0", "--db", "/data/genai-ledger.duckdb"]
