# Policy Watcher container image.
#
# Stage 1 installs the project into a virtualenv at /opt/venv; stage 2 is a clean python:3.11-slim with
# only that venv, the config and a non-root user. Every dependency ships wheels (lxml, pydantic-core,
# psycopg[binary]), so neither stage needs a compiler.

FROM python:3.11-slim AS builder

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

RUN python -m venv /opt/venv
ENV PATH="/opt/venv/bin:$PATH"

WORKDIR /src
COPY pyproject.toml README.md ./
COPY watcher ./watcher
RUN pip install --no-cache-dir .


FROM python:3.11-slim AS runtime

RUN groupadd --system --gid 10001 watcher \
    && useradd --system --uid 10001 --gid 10001 --home-dir /app --no-create-home \
       --shell /usr/sbin/nologin watcher \
    && mkdir -p /app/data \
    && chown watcher:watcher /app/data

COPY --from=builder /opt/venv /opt/venv
COPY config/ /app/config/

ENV PATH="/opt/venv/bin:$PATH" \
    PYTHONUNBUFFERED=1 \
    WATCHER_CACHE_DIR=/app/data/cache \
    WATCHER_LISTEN_HOST=0.0.0.0 \
    WATCHER_LOG_FORMAT=json

WORKDIR /app
# Declared after the chown so that a new named volume starts out owned by the watcher user.
VOLUME ["/app/data"]
# Numeric, so that runtimes that check "runAsNonRoot" can verify it without reading /etc/passwd.
USER 10001:10001

EXPOSE 9108

HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:9108/healthz', timeout=3).status == 200 else 1)"]

ENTRYPOINT ["watcher"]
CMD ["run", "--config", "/app/config/watcher.toml"]
