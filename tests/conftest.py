"""Shared fixtures: the personas and the rules about real services.

Personas: ``hr_admin`` (a superuser: HR staff run the admin), ``outsider`` (an
account in no group), ``viewer`` (a member of staff in the Viewers group: reads
the staff pages, no admin). Tests marked ``mariadb`` need a real MariaDB; on
SQLite they are skipped in a developer's run and fail under CI=true.
"""

from __future__ import annotations

import datetime
import os

import pytest
from django.contrib.auth.models import Group
from django.core.cache import cache
from django.db import connection

from org.access import VIEWER_GROUP
from org.models import AppliesTo, Level
from tests.factories import (
    DepartmentFactory,
    EmployeeFactory,
    ProjectFactory,
    RoleFactory,
    UserFactory,
)


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.get_closest_marker("mariadb"):
            item.fixturenames.insert(0, "_require_mariadb")


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """Django's advice for test suites: a cheap hasher. Every persona has a password; PBKDF2's deliberate
    slowness (about 0.3 s a hash here) is not what the tests measure. test_hardening checks the real settings."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Each test's database starts over (history ids included on SQLite), so remembered figures must too."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def _require_mariadb():
    if connection.vendor != "mysql":
        message = "needs MariaDB: run with DATABASE_URL=mysql://… (make test does, given PROJMAN_TEST_DATABASE_URL)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture
def hr_admin(db):
    return UserFactory(username="hr-admin", is_staff=True, is_superuser=True)


@pytest.fixture
def hr_client(client, hr_admin):
    client.force_login(hr_admin)
    return client


@pytest.fixture
def outsider(db):
    return UserFactory(username="outsider")


@pytest.fixture
def viewer(db):
    """A member of the Viewers group (org.access): reads the staff pages, no admin."""
    user = UserFactory(username="viewer")
    user.groups.add(Group.objects.get(name=VIEWER_GROUP))
    return user


@pytest.fixture
def viewer_client(client, viewer):
    client.force_login(viewer)
    return client


@pytest.fixture
def day():
    """A fixed 'today' for rules that do not depend on the clock."""
    return datetime.date(2025, 3, 1)


@pytest.fixture
def project(db):
    return ProjectFactory(code="ERP", name="ERP migration")


@pytest.fixture
def department(db):
    return DepartmentFactory(code="FIN", name="Finance")


@pytest.fixture
def ana(db):
    return EmployeeFactory(first_name="Ana", last_name="García", employee_number="E1")


@pytest.fixture
def bob(db):
    return EmployeeFactory(first_name="Bob", last_name="Smith", employee_number="E2")


@pytest.fixture
def carla(db):
    return EmployeeFactory(first_name="Carla", last_name="Pérez", employee_number="E3")


@pytest.fixture
def manager_role(db):
    return RoleFactory(
        name="Project Manager", applies_to=AppliesTo.PROJECT, default_level=Level.ACCOUNTABLE, single_holder=True
    )


@pytest.fixture
def developer_role(db):
    return RoleFactory(name="Developer", applies_to=AppliesTo.PROJECT, default_level=Level.RESPONSIBLE)


@pytest.fixture
def sponsor_role(db):
    return RoleFactory(name="Sponsor", applies_to=AppliesTo.BOTH, default_level=Level.ACCOUNTABLE)


@pytest.fixture
def head_role(db):
    return RoleFactory(
        name="Head of Department", applies_to=AppliesTo.DEPARTMENT, default_level=Level.ACCOUNTABLE, single_holder=True
    )
