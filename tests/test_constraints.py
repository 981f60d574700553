"""Rules the database itself holds: each broken by writing around the services."""

from __future__ import annotations

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction

from org.models import Assignment, Department, Employee, Project, Role
from tests.factories import AssignmentFactory, DepartmentFactory, EmployeeFactory, ProjectFactory, RoleFactory

D = datetime.date
pytestmark = pytest.mark.django_db


def refused(create) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        create()


def test_unique_codes_and_names():
    DepartmentFactory(code="FIN")
    ProjectFactory(code="ERP")
    RoleFactory(name="Developer")
    EmployeeFactory(employee_number="E1")
    refused(lambda: Department.objects.create(code="FIN", name="Other"))
    refused(lambda: Project.objects.create(code="ERP", name="Other", department=DepartmentFactory()))
    refused(lambda: Role.objects.create(name="Developer"))
    refused(lambda: EmployeeFactory(employee_number="E1"))


@pytest.mark.parametrize(
    ("factory", "field", "stored", "twin"),
    [
        (DepartmentFactory, "code", "ENG", "eng"),
        (DepartmentFactory, "code", "ÉQUIPE", "equipe"),
        (ProjectFactory, "code", "ERP", "Erp"),
        (RoleFactory, "name", "Développeur", "DEVELOPPEUR"),
        (EmployeeFactory, "employee_number", "E1001", "e1001"),
    ],
)
def test_codes_numbers_and_names_differing_in_case_or_accents_only_are_one(factory, field, stored, twin):
    """As MariaDB's collation compares them, on SQLite too: the admin's form check (full_clean) names the twin,
    and an import keyed on the folded value could not tell them apart."""
    factory(**{field: stored})
    model = factory._meta.model
    new = factory.build(**{field: twin})
    if model is Project:
        new.department = DepartmentFactory()
    with pytest.raises(ValidationError) as refused_twin:
        new.full_clean()
    assert field in refused_twin.value.message_dict
    same = model.objects.get()
    setattr(same, field, twin)  # a row may change its own case
    same.full_clean()
    same.save()


def test_work_email_is_unique_without_regard_to_case():
    EmployeeFactory(work_email="Ana.Garcia@Example.com")
    assert Employee.objects.get().work_email == "ana.garcia@example.com"
    refused(lambda: EmployeeFactory(work_email="ANA.GARCIA@example.COM"))


def test_work_email_case_is_held_by_the_database_too():
    """A row written with raw SQL, bypassing the field's lower-casing."""
    EmployeeFactory(employee_number="E1", work_email="ana@example.com")
    table = Employee._meta.db_table
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (employee_number, first_name, last_name, work_email, job_title) "
            "VALUES (%s, %s, %s, %s, %s)",
            ["E2", "Ana", "Twin", "ANA@example.com", ""],
        )


def test_assignment_targets_exactly_one_thing():
    refused(lambda: AssignmentFactory(project=None, department=None))
    refused(lambda: AssignmentFactory(department=DepartmentFactory()))  # and the factory's project


def test_assignment_end_not_before_start():
    refused(lambda: AssignmentFactory(start_date=D(2025, 1, 2), end_date=D(2025, 1, 1)))
    AssignmentFactory(start_date=D(2025, 1, 1), end_date=D(2025, 1, 1))


@pytest.mark.parametrize("allocation", [101, 250])
def test_allocation_at_most_100(allocation):
    refused(lambda: AssignmentFactory(allocation=allocation))


def test_allocation_bounds_are_allowed():
    AssignmentFactory(allocation=0)
    AssignmentFactory(allocation=100)
    AssignmentFactory(allocation=None)
    assert Assignment.objects.count() == 3


def test_level_must_be_raci():
    refused(lambda: AssignmentFactory(level="Z"))


def test_project_dates_and_status():
    refused(lambda: ProjectFactory(start_date=D(2025, 1, 2), end_date=D(2025, 1, 1)))
    refused(lambda: ProjectFactory(status="cancelled"))


def test_employee_leaves_after_hire():
    refused(lambda: EmployeeFactory(hire_date=D(2025, 1, 2), leave_date=D(2025, 1, 1)))


def test_referenced_rows_cannot_be_deleted():
    assignment = AssignmentFactory()
    with pytest.raises(Exception, match="protected"), transaction.atomic():
        assignment.project.delete()
    assert Project.objects.filter(pk=assignment.project_id).exists()
