"""A synthetic company of any size, for tests that pin query counts at two sizes."""

from __future__ import annotations

import datetime

from org.models import AppliesTo, Assignment, Department, Employee, Level, Project, ProjectStatus, Role

D = datetime.date


def build_company(size: int) -> dict[str, object]:
    """``size`` departments, employees and projects; ``3 * size`` assignments,
    ``size`` of them on one project, one employee and one department."""
    root = Department.objects.create(code="ROOT", name="Root")
    departments = Department.objects.bulk_create(
        Department(code=f"D{i:05d}", name=f"Department {i}", parent=root) for i in range(size)
    )
    employees = Employee.objects.bulk_create(
        Employee(
            employee_number=f"E{i:05d}",
            first_name=f"First{i}",
            last_name=f"Last{i}",
            work_email=f"e{i}@example.com",
            department=departments[i],
            hire_date=D(2020, 1, 1),
        )
        for i in range(size)
    )
    Employee.objects.filter(pk__in=[e.pk for e in employees[1:]]).update(manager=employees[0])
    projects = Project.objects.bulk_create(
        Project(code=f"P{i:05d}", name=f"Project {i}", department=departments[i], status=ProjectStatus.ACTIVE)
        for i in range(size)
    )
    developer = Role.objects.create(name="Developer", applies_to=AppliesTo.BOTH)
    Role.objects.bulk_create(Role(name=f"Role {i}") for i in range(size))
    rows = []
    for i in range(size):
        common = {"role": developer, "level": Level.RESPONSIBLE, "allocation": 10}
        rows.append(Assignment(employee=employees[i], project=projects[0], start_date=D(2024, 1, 1), **common))
        rows.append(Assignment(employee=employees[0], project=projects[i], start_date=D(2023, 1, 1), **common))
        rows.append(Assignment(employee=employees[i], department=departments[0], start_date=D(2022, 1, 1), **common))
    Assignment.objects.bulk_create(rows)
    return {
        "department": departments[0],
        "employee": employees[0],
        "project": projects[0],
        "role": developer,
        "assignment": Assignment.objects.filter(project=projects[0]).first(),
    }
