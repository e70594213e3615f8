# syntax=docker/dockerfile:1
# One image for the three tickwatch workers (and the one-shot migrations):
#   docker run tickwatch ingest | load | monitor | migrate
# Stage 1 builds wheels for the project and every pinned dependency from pyproject.toml and
# installs them into a virtualenv; stage 2 copies only that virtualenv onto a slim Python,
# runs as an unprivileged user under tini (signals reach the worker, zombies are reaped), and
# reports health from the worker's own /healthz endpoint.
#
# Base image pinned by tag and digest (multi-arch index). Refresh both together:
#   docker buildx imagetools inspect python:3.11.14-slim-bookworm
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm@sha256:65a93d69fa75478d554f4ad27c85c1e69fa184956261b4301ebaf6dbb0a3543d

FROM ${PYTHON_IMAGE} AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/tickwatch
WORKDIR /src
COPY pyproject.toml README.md ./
COPY tickwatch ./tickwatch
COPY pipeline ./pipeline
COPY monitor ./monitor
COPY alerts ./alerts
# Wheels first (the project and all its pinned dependencies), then an offline install of
# exactly those wheels: what is in the image is what was built here.
RUN /opt/tickwatch/bin/pip wheel --wheel-dir /wheels . \
 && /opt/tickwatch/bin/pip install --no-index --find-links /wheels tickwatch \
 && /opt/tickwatch/bin/tickwatch --help >/dev/null

FROM ${PYTHON_IMAGE} AS runtime
ARG TICKWATCH_UID=10001
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid "${TICKWATCH_UID}" tickwatch \
 && useradd --system --uid "${TICKWATCH_UID}" --gid tickwatch --create-home \
        --home-dir /home/tickwatch --shell /usr/sbin/nologin tickwatch \
 && install -d -o tickwatch -g tickwatch /var/lib/tickwatch /var/lib/tickwatch/ingest
# /var/lib/tickwatch: the detector's state and (ingest/) the ingest worker's checkpoints, both
# compose volumes; created here so a fresh volume starts owned by tickwatch.
COPY --from=builder /opt/tickwatch /opt/tickwatch
# tickwatch.migrations looks for the SQL files next to the installed package
# (<site-packages>/clickhouse/NNNN_*.sql).
COPY clickhouse /opt/tickwatch/lib/python3.11/site-packages/clickhouse
ENV PATH=/opt/tickwatch/bin:${PATH} \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    TICKWATCH_TELEMETRY_METRICS_HOST=0.0.0.0 \
    HEALTHCHECK_PORT=9101
USER tickwatch
WORKDIR /home/tickwatch
# ingest, load and monitor serve /metrics and /healthz on these ports (settings defaults).
EXPOSE 9101 9102 9103
# Each worker sets HEALTHCHECK_PORT to its own metrics port (docker-compose.yml does).
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ['HEALTHCHECK_PORT'], timeout=4)"]
ENTRYPOINT ["/usr/bin/tini", "--", "tickwatch"]
CMD ["--help"]
