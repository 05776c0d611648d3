# mde-alert-sync worker image. Build: docker build --network host -t mde-alert-sync .
# Run:   docker run -d -v mde-data:/data -e MDE_ALERT_SYNC_TENANT_ID=… -e MDE_ALERT_SYNC_CLIENT_ID=… mde-alert-sync
# Sign in once: docker run --rm -it -v mde-data:/data -e … mde-alert-sync login

# Build stage: compilers for the native better-sqlite3 addon, dev dependencies for TypeScript.
FROM node:22-bookworm AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
COPY migrations ./migrations
COPY config ./config
# What the final stage needs, and only that: compiled code, production dependencies, migrations, config.
RUN npm run build && npm prune --omit=dev && rm -rf src tsconfig.json package-lock.json

# Final stage: no compilers, no dev dependencies, non-root, database on /data.
FROM node:22-bookworm-slim
# glibc malloc: two arenas and a 1 MB trim threshold return the memory of each freed page to the system
# (peak RSS of a 100,000-alert backfill 233 MB instead of 277 MB: docs/performance.md).
ENV NODE_ENV=production \
    MALLOC_ARENA_MAX=2 \
    MALLOC_TRIM_THRESHOLD_=1048576 \
    MDE_ALERT_SYNC_DATABASE_PATH=/data/alerts.db \
    MDE_ALERT_SYNC_HEALTH_PORT=8080 \
    MDE_ALERT_SYNC_HEALTH_HOST=0.0.0.0
WORKDIR /app
# One layer for the application (root-owned, read-only to the worker), one for the data directory. The reader
# model (README, "Reading the database"): /data 0750 and the database 0640 for the group node (gid 1000), which
# a reporting container joins (group_add) to mount the volume read-only; the token cache in /data/token-cache,
# 0700, that no reader enters. A new named volume starts as a copy of these folders.
COPY --from=build /app /app
RUN mkdir -p /data/token-cache && chown -R node:node /data && chmod 0750 /data && chmod 0700 /data/token-cache
USER node
VOLUME ["/data"]
EXPOSE 8080
# /readyz is 200 while stored data is recent: a successful pass, or the running one committing windows, within
# readyMaxAge (30m); so a first backfill that advances stays healthy, and a pass stuck for longer turns it
# unhealthy. The start period covers a first backfill's first window, which may take several full answers.
HEALTHCHECK --interval=30s --timeout=5s --start-period=5m --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.MDE_ALERT_SYNC_HEALTH_PORT || 8080) + '/readyz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["node", "/app/dist/cli.js"]
CMD ["run"]
