# workers-ai-proxy: an OpenAI-compatible API for Cloudflare Workers AI.
#   docker build -t workers-ai-proxy .
#   docker run --rm -p 8787:8787 --env-file .env workers-ai-proxy
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /srv/workers-ai-proxy
COPY pyproject.toml README.md ./
COPY app ./app
RUN pip install --no-cache-dir . \
    && useradd --create-home --uid 10001 proxy \
    && mkdir /data && chown 10001 /data

USER 10001
# Inside the container the proxy must listen on every interface; the port stays the documented default.
ENV PROXY_HOST=0.0.0.0 \
    PROXY_PORT=8787 \
    PROXY_LOG_FORMAT=json \
    PROXY_STATE_PATH=/data/proxy.sqlite3
# Named keys (and, later, usage): keep them across container restarts with a volume
VOLUME /data
EXPOSE 8787
# Liveness: the process answers. Readiness (the account answers) is /ready, used by compose and load balancers.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 CMD ["python", "-m", "app.healthcheck", "health"]
CMD ["workers-ai-proxy"]
