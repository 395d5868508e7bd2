# syntax=docker/dockerfile:1
# The issuance service (cardservice). Build: docker build -t cardservice .
# Run:   docker run --env-file config/example.env -p 8000:8000 cardservice

# --- build: wheels for the app and its dependencies, compiled message catalogs ---------------
FROM python:3.11-slim-bookworm AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
# gcc builds cardformat's base45 accelerator into the wheel; the runtime image needs no compiler.
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/*
RUN python -m pip install --upgrade pip babel
COPY pyproject.toml setup.py README.md ./
COPY cardformat cardformat
COPY cardservice cardservice
COPY verifier verifier
# Catalogs are compiled here so the runtime image needs no Babel tooling.
RUN pybabel compile -d cardservice/translations
RUN python -m pip wheel --wheel-dir /wheels .

# --- runtime: no compilers, no build tools, not root -----------------------------------------
FROM python:3.11-slim-bookworm
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    PATH=/opt/venv/bin:$PATH \
    CARDSERVICE_ENV=production \
    CARDSERVICE_INSTANCE_PATH=/var/lib/cardservice \
    CARDSERVICE_CONFIG_DIR=/app/config \
    CARDSERVICE_MIGRATIONS_DIR=/app/migrations \
    CARDSERVICE_BIND=0.0.0.0:8000
RUN python -m venv /opt/venv
COPY --from=build /wheels /wheels
RUN /opt/venv/bin/pip install --no-index --find-links /wheels citycard && rm -rf /wheels
RUN groupadd --system --gid 10001 cardservice \
    && useradd --system --uid 10001 --gid cardservice --home-dir /app --shell /usr/sbin/nologin cardservice \
    && install -d -o cardservice -g cardservice -m 0700 /var/lib/cardservice
WORKDIR /app
COPY --chown=root:root config config
COPY --chown=root:root migrations migrations
COPY --chown=root:root boot.sh boot.sh
USER cardservice
EXPOSE 8000
VOLUME ["/var/lib/cardservice"]
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status == 200 else 1)"]
ENTRYPOINT ["/app/boot.sh"]
