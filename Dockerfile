# syntax=docker/dockerfile:1
# Task Dispatcher: runs the TypeScript sources directly with Node 24's type stripping (no build step).
# The Lua scripts live next to src/adapters/redis/scripts/index.ts and are read at run time, so src/ is
# copied as it is. One image for both roles: MODE=api or MODE=worker (see docker-compose.yml, helm/).

# --- deps: production dependencies only ------------------------------------------------------------
FROM node:24-slim AS deps
WORKDIR /app
ENV NODE_ENV=production
# package.json carries the allowScripts policy for dependency install scripts, so it is copied with the
# lock file before `npm ci`, which applies it (no production dependency has an install script today).
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

# --- runtime -----------------------------------------------------------------------------------------
FROM node:24-slim AS runtime
WORKDIR /app
ENV NODE_ENV=production
# root-owned and read-only for the `node` user: the process writes nothing to disk
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY src ./src
USER node
EXPOSE 8080
# the slim image has no curl: node's own fetch does the check (only MODE=api/both serve HTTP;
# docker-compose.yml disables the check for the worker)
HEALTHCHECK --interval=10s --timeout=3s --start-period=15s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:8080/health', { signal: AbortSignal.timeout(2000) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# exec form: node is PID 1 and receives SIGTERM itself; main.ts drains and exits 0
CMD ["node", "src/main.ts"]
