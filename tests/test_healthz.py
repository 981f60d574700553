"""/healthz, and the 503 page any other page gives while the database cannot be reached.

An unreachable database is a separate app process (as a server would run) whose DATABASE_URL points where no
database answers: a SQLite file in a directory that does not exist, or, on MariaDB, a closed port on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.urls import reverse

from tests.test_settings import start

ROOT = Path(__file__).resolve().parent.parent

# Runs in the app process: one GET through the Django test client, the response as JSON on stdout.
PROBE = """
import json, sys
import django
django.setup()
from django.test import Client
client = Client()
client.cookies["sessionid"] = "a-session-the-database-would-have-to-look-up"
response = client.get(sys.argv[1], secure=True)  # as through the TLS proxy of production
print(json.dumps({"status": response.status_code, "body": response.content.decode(),
                  "retry_after": response.get("Retry-After")}))
"""


def get(path: str, **database_env: str) -> tuple[dict, str]:
    """GET ``path`` in a production-like app process with the given DATABASE_* variables."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DATABASE") and k != "DEBUG"}
    app_env = {
        **clean,
        "DJANGO_SETTINGS_MODULE": "projman.settings",
        "DEBUG": "false",
        "SECRET_KEY": "x" * 50,
        "ALLOWED_HOSTS": "testserver",
        **database_env,
    }
    done = subprocess.run(
        [sys.executable, "-c", PROBE, path], cwd=ROOT, env=app_env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout), done.stderr


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def nowhere(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'no-such-directory' / 'db.sqlite3'}"


@pytest.fixture
def working(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'db.sqlite3'}"


@pytest.mark.django_db
def test_healthz_answers_ok_with_one_query(client, django_assert_num_queries):
    with django_assert_num_queries(1):
        response = client.get(reverse("healthz"))
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "writer": "ok"}
    assert "no-cache" in response["Cache-Control"]


def test_healthz_never_reads_the_session(hr_client, django_assert_num_queries):
    with django_assert_num_queries(1):  # the SELECT 1, not the session or the user
        response = hr_client.get(reverse("healthz"))
    assert response.status_code == 200
    assert "Cookie" not in response.get("Vary", "")
    assert not response.cookies


def test_healthz_with_a_reader_checks_both(working):
    response, _log = get("/healthz", DATABASE_URL=working, DATABASE_REPLICA_URL=working)
    assert response["status"] == 200
    assert json.loads(response["body"]) == {"status": "ok", "writer": "ok", "reader": "ok"}


def test_healthz_is_503_when_the_writer_is_unreachable(nowhere):
    response, log = get("/healthz", DATABASE_URL=nowhere)
    assert response["status"] == 503
    assert json.loads(response["body"]) == {"status": "unavailable", "writer": "unavailable"}
    assert "did not answer: unable to open database file" in log  # the reason is logged, not shown


def test_healthz_is_503_when_the_reader_is_unreachable(working, nowhere):
    response, _log = get("/healthz", DATABASE_URL=working, DATABASE_REPLICA_URL=nowhere)
    assert response["status"] == 503
    assert json.loads(response["body"]) == {"status": "unavailable", "writer": "ok", "reader": "unavailable"}


def test_a_page_gives_the_503_page_when_the_database_is_unreachable(nowhere):
    response, log = get("/admin/", DATABASE_URL=nowhere)
    assert response["status"] == 503
    assert "The database is unavailable; try again in a moment." in response["body"]
    assert "Traceback" not in response["body"]
    assert "no-such-directory" not in response["body"]
    assert response["retry_after"] == "10"
    assert "answered 503" in log


@pytest.mark.mariadb
def test_an_unreachable_mariadb_fails_fast():
    url = f"mysql://nobody@127.0.0.1:{closed_port()}/projman"
    started = time.monotonic()
    health, _log = get("/healthz", DATABASE_URL=url, DATABASE_REPLICA_URL=url)
    page, _log = get("/admin/", DATABASE_URL=url)
    assert time.monotonic() - started < 30
    assert health["status"] == 503
    assert json.loads(health["body"]) == {"status": "unavailable", "writer": "unavailable", "reader": "unavailable"}
    assert page["status"] == 503
    assert "The database is unavailable; try again in a moment." in page["body"]


# --- Configuration: connections that fail fast and never outlive the proxy's idle timeout ----------------------


def test_connections_are_kept_below_the_proxy_timeout_and_checked():
    result = start(
        {"DEBUG": "true", "DATABASE_URL": "mysql://app@127.0.0.1:3307/projman", "DATABASE_CONN_MAX_AGE": ""},
        "d = s.DATABASES['default']; "
        "print(d['CONN_MAX_AGE'], d['CONN_HEALTH_CHECKS'], d['OPTIONS']['connect_timeout'])",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["60", "True", "3"]
