from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from org import selectors
from org.models import Assignment, Department, Employee, Project, Role

pytestmark = pytest.mark.django_db


def counts() -> dict[str, int]:
    return {m.__name__: m.objects.count() for m in (Department, Employee, Project, Role, Assignment)}


def test_seed_demo_loads_a_company_once(capsys):
    call_command("seed_demo")
    first = counts()
    assert 8 <= first["Department"] <= 15
    assert 50 <= first["Employee"] <= 70
    assert 10 <= first["Project"] <= 15
    assert first["Assignment"] > 100
    names = set(Employee.objects.values_list("first_name", flat=True))
    assert {"Lucía", "James"} <= names  # Spanish and English names
    assert Assignment.objects.past().exists() and Assignment.objects.current().exists()
    gaps = list(selectors.projects_without_accountable())
    assert [p.code for p in gaps] == ["DWH"]
    history_rows = Assignment.history.count()
    assert history_rows == first["Assignment"]

    call_command("seed_demo")
    assert counts() == first
    assert Assignment.history.count() == history_rows
    assert "nothing changed" in capsys.readouterr().out


def test_create_admin_login_prints_a_generated_password_once(capsys):
    call_command("create_admin_login")
    out = capsys.readouterr().out
    password = out.split("password: ")[1].split()[0]
    user = get_user_model().objects.get(username="admin")
    assert user.is_superuser and user.check_password(password)
    assert len(password) >= 16

    call_command("create_admin_login")
    again = capsys.readouterr().out
    assert "already exists" in again and password not in again
    assert get_user_model().objects.get(username="admin").check_password(password)


def test_two_checkouts_get_different_passwords(capsys):
    call_command("create_admin_login", username="one")
    call_command("create_admin_login", username="two")
    out = capsys.readouterr().out
    first, second = (chunk.split()[0] for chunk in out.split("password: ")[1:])
    assert first != second
