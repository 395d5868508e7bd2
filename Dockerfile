# syntax=docker/dockerfile:1
# The issuance service (cardservice). Build: docker build -t cardservice .
# Run:   docker run --env-file config/example.env -p 8000:8000 cardservice
# The verifier, from the same wheels: docker build --target verifier -t verifier .
# Without Docker or a registry, scripts/image.py builds BASE_IMAGE from Debian packages and
# builds this file with podman (docs/operations.md, "Running").

# Any Debian bookworm image with Python 3.11 as `python` on PATH, pip and venv.
ARG BASE_IMAGE=python:3.11-slim-bookworm

# --- build: wheels for the app and its dependencies, compiled message catalogs ---------------
FROM ${BASE_IMAGE} AS build
# Where pip finds packages, when not PyPI directly (a mirror, a proxy with its own CA). Declared
# in this stage only, so no value given here reaches the runtime images or their history.
ARG PIP_INDEX_URL
ARG PIP_TRUSTED_HOST
ARG PIP_CERT
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
COPY webguard webguard
# Catalogs are compiled here so the runtime image needs no Babel tooling.
RUN pybabel compile -d cardservice/translations
RUN python -m pip wheel --wheel-dir /wheels .

# --- runtime: no compilers, no build tools; shared by the two images below -------------------
FROM ${BASE_IMAGE} AS runtime
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    PATH=/opt/venv/bin:$PATH
RUN python -m venv /opt/venv
COPY --from=build /wheels /wheels
RUN /opt/venv/bin/pip install --no-index --find-links /wheels citycard && rm -rf /wheels

# --- the verifier: docs/verifier.md; no database, not root, no access log ----------------------
FROM runtime AS verifier
ENV VERIFIER_ENV=production \
    VERIFIER_INSTANCE_PATH=/var/lib/verifier \
    VERIFIER_BIND=0.0.0.0:8001
RUN groupadd --system --gid 10002 verifier \
    && useradd --system --uid 10002 --gid verifier --home-dir /app --shell /usr/sbin/nologin verifier \
    && install -d -o verifier -g verifier -m 0700 /var/lib/verifier
WORKDIR /app
COPY --chown=root:root config/verifier.gunicorn.conf.py config/verifier.gunicorn.conf.py
USER verifier
EXPOSE 8001
VOLUME ["/var/lib/verifier"]
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, sys, urllib.request; port = os.environ['VERIFIER_BIND'].rpartition(':')[2]; sys.exit(0 if urllib.request.urlopen(f'http://127.0.0.1:{port}/healthz', timeout=4).status == 200 else 1)"]
ENTRYPOINT ["gunicorn", "--config", "config/verifier.gunicorn.conf.py", "verifier:create_app()"]

# --- the issuance service (the default target: last in this file); not root ------------------
FROM runtime AS cardservice
ENV CARDSERVICE_ENV=production \
    CARDSERVICE_INSTANCE_PATH=/var/lib/cardservice \
    CARDSERVICE_CONFIG_DIR=/app/config \
    CARDSERVICE_MIGRATIONS_DIR=/app/migrations \
    CARDSERVICE_BIND=0.0.0.0:8000
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
# The port is the one the server listens on, also when CARDSERVICE_BIND is overridden.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, sys, urllib.request; port = os.environ['CARDSERVICE_BIND'].rpartition(':')[2]; sys.exit(0 if urllib.request.urlopen(f'http://127.0.0.1:{port}/healthz', timeout=4).status == 200 else 1)"]
ENTRYPOINT ["/app/boot.sh"]
