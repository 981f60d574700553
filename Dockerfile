# syntax=docker/dockerfile:1
# ProjMan's image: `docker build -t projman .`, or `docker compose up --build` (docker-compose.yml).
#
# Two stages: mysqlclient compiles against libmariadb's headers in the builder; the runtime keeps only the
# compiled virtualenv, the MariaDB client library and the `mariadb` client (for the health agent and the
# compose cluster bootstrap). Static files are collected here, at build time, with no secret (settings
# import without one; serving refuses to start without SECRET_KEY). Migrations never run on start:
# `ops/entrypoint init` (compose's `init` service, the Procfile's release phase) runs them.
# The base image is pinned to an exact release; apt packages are left to Debian's security updates
# (hadolint's DL3008 is not followed on purpose). tests/test_deploy.py checks the rules this file keeps.

FROM python:3.11.14-slim-bookworm AS builder
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential pkg-config libmariadb-dev \
    && rm -rf /var/lib/apt/lists/*
COPY requirements/base.txt requirements/mysql.txt /tmp/requirements/
RUN python -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-cache-dir --disable-pip-version-check \
        -r /tmp/requirements/base.txt -r /tmp/requirements/mysql.txt

FROM python:3.11.14-slim-bookworm AS runtime
RUN apt-get update \
    && apt-get install -y --no-install-recommends libmariadb3 mariadb-client-core \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 projman \
    && useradd --system --uid 10001 --gid projman --home-dir /app --no-create-home --shell /usr/sbin/nologin projman
COPY --from=builder /opt/venv /opt/venv
ENV PATH="/opt/venv/bin:$PATH" \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    DJANGO_SETTINGS_MODULE=projman.settings \
    GUNICORN_BIND=127.0.0.1:8000
WORKDIR /app
# The code stays owned by root: the app user can read it, not change it.
COPY . .
RUN python manage.py collectstatic --noinput --verbosity 0
USER projman:projman
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 CMD ["python", "/app/ops/entrypoint", "healthcheck"]
ENTRYPOINT ["python", "/app/ops/entrypoint"]
CMD ["serve"]
