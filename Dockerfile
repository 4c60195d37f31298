# syntax=docker/dockerfile:1
# HarmMap web app for production: gunicorn on port 8000, reference data in /app/geodata.
# See docker-compose.yml for the database and the one-shot `harmmap db init && harmmap geo load`.

# --- build a wheel of the project (non-editable) ---
FROM python:3.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY . .
RUN pip wheel --no-deps --wheel-dir /wheels .

# --- runtime ---
FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HARMMAP_ENVIRONMENT=production \
    HARMMAP_GEODATA_DIR=/app/geodata

# Fonts for rendered maps and briefing PDFs.
RUN apt-get update \
    && apt-get install -y --no-install-recommends fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*

COPY --from=build /wheels /tmp/wheels
RUN pip install /tmp/wheels/*.whl && rm -rf /tmp/wheels

WORKDIR /app
COPY geodata/ /app/geodata/

RUN useradd --system --uid 10001 --user-group --home-dir /app --no-create-home harmmap
USER harmmap

EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]

# web/gunicorn_conf.py: no preload (each worker opens its own database pool), timeouts, JSON logs.
# Workers: WEB_CONCURRENCY, else 2 x cores + 1 (at most 8).
ENV HARMMAP_BIND=0.0.0.0:8000
CMD ["gunicorn", "-c", "python:web.gunicorn_conf", "web:create_app()"]
