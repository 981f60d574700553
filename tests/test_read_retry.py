"""A read whose database connection breaks mid-request is answered on a new connection; a write never runs twice.

The app runs in its own process (as a server would) against the test database on MariaDB. Its first query's
connection is killed by the server (``KILL CONNECTION`` from a second connection, through an execute wrapper
installed in that process), which is what a client sees when a node dies under a query or HAProxy cuts a
session on a node it marked down.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from tests.factories import EmployeeFactory

ROOT = Path(__file__).resolve().parent.parent

# Runs in the app process: kills the app's own connection before its first `kills` queries, then one request
# through the Django test client; the response and the number of kills as JSON on stdout.
PROBE = """
import json, sys
import django
django.setup()
import MySQLdb
from django.db import connection
from django.test import Client

method, path, session, kills = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
killed = []

def kill_own_connection(execute, sql, params, many, context):
    if len(killed) < kills:
        own = context["connection"].connection.thread_id()
        db = context["connection"].settings_dict
        other = MySQLdb.connect(host=db["HOST"], port=int(db["PORT"]), user=db["USER"], password=db["PASSWORD"])
        other.cursor().execute(f"KILL CONNECTION {own}")
        other.close()
        killed.append(own)
    return execute(sql, params, many, context)

connection.execute_wrappers.append(kill_own_connection)
client = Client()
client.cookies["sessionid"] = session
response = getattr(client, method)(path)
print(json.dumps({
    "status": response.status_code,
    "location": response.get("Location", ""),
    "body": response.content.decode(),
    "kills": len(killed),
}))
"""


def serve_once(method: str, path: str, session: str, *, kills: int, retry_seconds: int = 3) -> tuple[dict, str]:
    """One request in an app process whose connection the server kills ``kills`` times; (response, log)."""
    db = connection.settings_dict
    url = f"mysql://{db['USER']}:{db['PASSWORD']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 3306}/{db['NAME']}"
    env = {
        "PATH": "/usr/bin:/bin",
        "DJANGO_SETTINGS_MODULE": "projman.settings",
        "DEBUG": "true",  # static files without a collectstatic manifest
        "SECRET_KEY": settings.SECRET_KEY,  # the session cookie was signed with it
        "ALLOWED_HOSTS": "testserver",
        "SESSION_COOKIE_SECURE": "false",
        "DATABASE_URL": url,
        "DATABASE_READ_RETRY_SECONDS": str(retry_seconds),
    }
    done = subprocess.run(
        [sys.executable, "-c", PROBE, method, path, session, str(kills)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout), done.stderr


@pytest.fixture
def employee_page(viewer, client) -> tuple[str, str, str]:
    """(path, session cookie, a name on the page) of an employee page a logged-in viewer may read."""
    employee = EmployeeFactory(first_name="Remedios", last_name="Varo")
    client.force_login(viewer)
    return f"/employees/{employee.employee_number}/", client.cookies["sessionid"].value, "Remedios Varo"


@pytest.mark.mariadb
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("kills", [1, 3], ids=["a node dies under the query", "the database is back after a while"])
def test_a_read_whose_connection_dies_is_answered_on_a_new_one(employee_page, kills):
    path, session, name = employee_page
    response, log = serve_once("get", path, session, kills=kills)
    assert response["kills"] == kills
    assert response["status"] == 200, (response["location"], log[-3000:])
    assert name in response["body"]
    assert f"answered on a new connection (attempt {kills})" in log


@pytest.mark.mariadb
@pytest.mark.django_db(transaction=True)
def test_a_read_gets_the_503_page_when_the_database_stays_gone(employee_page):
    path, session, _name = employee_page
    response, log = serve_once("get", path, session, kills=1000, retry_seconds=1)
    assert response["status"] == 503
    assert "The database is unavailable; try again in a moment." in response["body"]
    assert 1 < response["kills"] < 1000  # it tried again, then gave up within the second
    assert "answered 503" in log


@pytest.mark.mariadb
@pytest.mark.django_db(transaction=True)
def test_a_write_whose_connection_dies_is_not_run_again(employee_page):
    """A POST may have written before its connection broke: the user is told to try again, it is not repeated."""
    _path, session, _name = employee_page
    response, log = serve_once("post", "/admin/login/", session, kills=1)
    assert response["kills"] == 1
    assert response["status"] == 503
    assert "answered on a new connection" not in log


@pytest.mark.mariadb
@pytest.mark.django_db(transaction=True)
def test_the_retry_can_be_turned_off(employee_page):
    path, session, _name = employee_page
    response, _log = serve_once("get", path, session, kills=1, retry_seconds=0)
    assert (response["status"], response["kills"]) == (503, 1)
