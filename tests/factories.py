from __future__ import annotations

import datetime
import secrets

import factory
from django.contrib.auth import get_user_model

from org.models import AppliesTo, Assignment, Department, Employee, Level, Project, ProjectStatus, Role


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.django.Password(secrets.token_urlsafe(16))  # tests that log in with it set their own


class DepartmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Department

    code = factory.Sequence(lambda n: f"D{n:04d}")
    name = factory.Sequence(lambda n: f"Department {n}")


class EmployeeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Employee

    employee_number = factory.Sequence(lambda n: f"E{n:06d}")
    first_name = factory.Faker("first_name", locale="es_ES")
    last_name = factory.Faker("last_name", locale="en_GB")
    work_email = factory.LazyAttribute(lambda e: f"{e.employee_number.lower()}@example.com")
    job_title = "Engineer"
    department = factory.SubFactory(DepartmentFactory)
    hire_date = datetime.date(2020, 1, 1)


class ProjectFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Project

    code = factory.Sequence(lambda n: f"P{n:04d}")
    name = factory.Sequence(lambda n: f"Project {n}")
    department = factory.SubFactory(DepartmentFactory)
    status = ProjectStatus.ACTIVE
    start_date = datetime.date(2020, 1, 1)


class RoleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Role
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Role {n}")
    applies_to = AppliesTo.BOTH
    default_level = Level.RESPONSIBLE
    single_holder = False


class AssignmentFactory(factory.django.DjangoModelFactory):
    """Writes straight to the table: for arranging data in tests. Tests of the
    rules go through org.services."""

    class Meta:
        model = Assignment

    employee = factory.SubFactory(EmployeeFactory)
    role = factory.SubFactory(RoleFactory)
    project = factory.SubFactory(ProjectFactory)
    department = None
    level = Level.RESPONSIBLE
    start_date = datetime.date(2024, 1, 1)
    end_date = None
    allocation = 50
