"""Which database each query goes to when DATABASE_REPLICA_URL adds a reader.

The suite runs on one database, so this module adds a "replica" alias that mirrors the test database, as
settings.py does for DATABASE_REPLICA_URL (TEST MIRROR), and installs the router and the pinning middleware
for its own tests only; the rest of the suite keeps the single database it is configured with.
"""

from __future__ import annotations

import multidb
import pytest
from django.conf import settings
from django.db import connections, router, transaction
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from multidb.pinning import unpin_this_thread

from org.models import Department, Employee
from tests.factories import EmployeeFactory
from tests.test_settings import start

PIN_COOKIE = "multidb_pin_writes"
PIN_MIDDLEWARE = "multidb.middleware.PinningRouterMiddleware"


@pytest.fixture(scope="module", autouse=True)
def replica_alias(django_db_setup):
    """A second alias on the test database; module-scoped, so it exists before pytest-django checks ``databases``."""
    default = connections["default"].settings_dict  # already renamed to the test database
    # settings.DATABASES is the very dict ``connections`` reads its aliases from.
    settings.DATABASES["replica"] = {**default, "TEST": {**default["TEST"], "MIRROR": "default"}}
    yield
    connections["replica"].close()
    del connections["replica"]
    del settings.DATABASES["replica"]


@pytest.fixture(autouse=True)
def replica_router(monkeypatch):
    monkeypatch.setattr(multidb, "replicas", None)  # multidb caches the replica list of the settings it first saw
    middleware = list(settings.MIDDLEWARE)
    middleware.insert(middleware.index("django.contrib.sessions.middleware.SessionMiddleware"), PIN_MIDDLEWARE)
    with override_settings(
        DATABASE_ROUTERS=["projman.routers.ReplicaRouter"], REPLICA_DATABASES=["replica"], MIDDLEWARE=middleware
    ):
        yield
    unpin_this_thread()  # the test client's last request leaves its pin on this thread


def test_reads_go_to_the_replica():
    assert Employee.objects.all().db == "replica"
    assert Employee.objects.filter(last_name="García").values("id").db == "replica"


def test_writes_go_to_the_writer():
    assert router.db_for_write(Employee) == "default"
    assert Employee.objects.select_for_update().db == "default"


@pytest.mark.django_db(transaction=True, databases=["default", "replica"])
def test_created_rows_are_written_to_the_writer():
    employee = EmployeeFactory()
    assert employee._state.db == "default"
    assert Employee.objects.filter(pk=employee.pk).exists()  # read back through the replica alias


@pytest.mark.django_db(transaction=True)
def test_reads_inside_a_transaction_go_to_the_writer():
    with transaction.atomic():
        assert Employee.objects.all().db == "default"
    assert Employee.objects.all().db == "replica"


def test_migrations_run_on_the_writer_only():
    assert router.allow_migrate("default", "org")
    assert not router.allow_migrate("replica", "org")


@pytest.mark.django_db(transaction=True, databases=["default", "replica"])
def test_reads_after_a_post_stay_on_the_writer_for_the_pin_seconds(client, hr_admin):
    client.force_login(hr_admin)
    changelist = reverse("admin:org_department_changelist")

    response = client.post(reverse("admin:org_department_add"), department_form("PIN", "Pinned"))
    assert response.status_code == 302
    assert Department.objects.filter(code="PIN").exists()
    assert response.cookies[PIN_COOKIE]["max-age"] == settings.DATABASE_PIN_SECONDS == 15
    assert response.cookies[PIN_COOKIE]["httponly"]

    with queries_on("default") as writer, queries_on("replica") as reader:
        assert client.get(changelist).status_code == 200
    assert len(writer) > 0
    assert len(reader) == 0

    del client.cookies[PIN_COOKIE]  # the cookie expired
    with queries_on("default") as writer, queries_on("replica") as reader:
        assert client.get(changelist).status_code == 200
    assert len(writer) == 0
    assert len(reader) > 0


def queries_on(alias: str) -> CaptureQueriesContext:
    return CaptureQueriesContext(connections[alias])


def department_form(code: str, name: str) -> dict[str, str]:
    data = {"code": code, "name": name, "parent": "", "active": "on"}
    for prefix in ("assignments", "assignments-2"):
        data.update({f"{prefix}-TOTAL_FORMS": "0", f"{prefix}-INITIAL_FORMS": "0"})
    return data


# --- Configuration: DATABASE_REPLICA_URL and DATABASE_PIN_SECONDS, read at start-up ----------------------------

UNSET = {"DATABASE_REPLICA_URL": "", "DATABASE_PIN_SECONDS": "", "DATABASE_MAX_LAG": ""}


def test_without_a_replica_url_there_is_one_database_and_no_router():
    result = start(
        {**UNSET, "DEBUG": "true"},
        "print(list(s.DATABASES), getattr(s, 'DATABASE_ROUTERS', []), 'multidb.middleware.PinningRouterMiddleware' "
        "in s.MIDDLEWARE)",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["['default']", "[]", "False"]


def test_replica_url_adds_a_reader_treated_like_the_writer():
    result = start(
        {
            **UNSET,
            "DEBUG": "true",
            "DATABASE_URL": "mysql://app@127.0.0.1:3307/projman",
            "DATABASE_REPLICA_URL": "mysql://app@127.0.0.1:3308/projman",
        },
        "r = s.DATABASES['replica']; d = s.DATABASES['default']; "
        "print(r['PORT'], r['TEST']['MIRROR'], r['OPTIONS'] == d['OPTIONS'], r['CONN_HEALTH_CHECKS'], "
        "s.DATABASE_ROUTERS, s.REPLICA_DATABASES, s.MULTIDB_PINNING_SECONDS, "
        "s.MIDDLEWARE.index('multidb.middleware.PinningRouterMiddleware') "
        "< s.MIDDLEWARE.index('django.contrib.sessions.middleware.SessionMiddleware'))",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "3308",
        "default",
        "True",
        "True",
        "['projman.routers.ReplicaRouter']",
        "['replica']",
        "15",
        "True",
    ]


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DATABASE_REPLICA_URL": "postgres://u@127.0.0.1/x"}, "DATABASE_REPLICA_URL uses"),
        ({"DATABASE_REPLICA_URL": "mysql://app@127.0.0.1:3308/projman"}, "must use the same engine as DATABASE_URL"),
        ({"DATABASE_PIN_SECONDS": "soon"}, "DATABASE_PIN_SECONDS='soon' is not a whole number"),
        ({"DATABASE_PIN_SECONDS": "5"}, "DATABASE_PIN_SECONDS=5 must exceed DATABASE_MAX_LAG=5"),
        ({"DATABASE_MAX_LAG": "-1"}, "DATABASE_MAX_LAG='-1' is too small"),
    ],
)
def test_bad_replica_settings_are_named(env, message):
    result = start({**UNSET, "DEBUG": "true", **env})
    assert result.returncode != 0
    assert message in result.stderr
