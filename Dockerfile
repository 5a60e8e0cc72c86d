# syntax=docker/dockerfile:1
# The `weather` CLI as a container image, for the Kind CronJob (infra-kind/) or any scheduler.
#   docker build -t weather-dataops:local .
#   docker run --rm -e DATABASE_URL=postgres://... weather-dataops:local ingest --source simulator --json
# Both stages use the same exact Node 24 tag (Lambda's runtime major). Pin a digest on top when your
# registry policy asks for it: FROM node:24.21.0-slim@sha256:<digest>.

# --- deps: resolve production dependencies exactly as package-lock.json says --------------------------
FROM node:24.21.0-slim AS deps
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
# No lifecycle scripts: none of the production dependencies needs one, and it keeps the build offline-safe.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
  && npm cache clean --force

# --- runtime: sources + production node_modules, read-only to an unprivileged user ------------------
FROM node:24.21.0-slim AS runtime
WORKDIR /app
ENV NODE_ENV=production \
  WEATHER_HOME=/var/lib/weather \
  NODE_OPTIONS=--enable-source-maps

# uid/gid 10001 is what infra-kind's CronJob runs as; only WEATHER_HOME is writable by it.
RUN groupadd --system --gid 10001 weather \
  && useradd --system --uid 10001 --gid weather --home-dir /nonexistent --no-create-home \
     --shell /usr/sbin/nologin weather \
  && mkdir -p /var/lib/weather \
  && chown weather:weather /var/lib/weather

# .dockerignore is an allow-list: only what the CLI loads at run time reaches this layer.
COPY --from=deps /app/node_modules ./node_modules
COPY . .

USER weather:weather

# Kubernetes' CronJob (and `docker run ... <command>`) supply the subcommand; the default is one ingest.
ENTRYPOINT ["node", "bin/weather.js"]
CMD ["ingest", "--json"]
