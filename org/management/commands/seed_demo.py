"""Load a small, realistic demo company: the one `make run` shows.

Idempotent: departments, employees, projects and roles are matched by their
natural keys and left alone when present; an assignment is created only when
its employee holds nothing yet with that role on that target. Assignments go
through ``org.services``, so the demo obeys every rule a user's data does.
"""

from __future__ import annotations

import datetime
import random

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from org import services
from org.models import AppliesTo, Assignment, Department, Employee, Level, Project, ProjectStatus, Role

DEPARTMENTS = [
    # code, name, parent code
    ("DIR", "Dirección General", None),
    ("FIN", "Finance", "DIR"),
    ("PEO", "Personas y Cultura", "DIR"),
    ("ENG", "Engineering", "DIR"),
    ("PLT", "Platform", "ENG"),
    ("APP", "Aplicaciones", "ENG"),
    ("QA", "Quality Assurance", "ENG"),
    ("OPS", "Operaciones", "DIR"),
    ("SUP", "Customer Support", "OPS"),
    ("MKT", "Marketing", "DIR"),
    ("SAL", "Ventas", "DIR"),
]

ROLES = [
    # name, applies to, default level, single holder, description
    ("Head of Department", AppliesTo.DEPARTMENT, Level.ACCOUNTABLE, True, "Runs the department."),
    ("Team Member", AppliesTo.DEPARTMENT, Level.RESPONSIBLE, False, "Works in the department's team."),
    ("Project Manager", AppliesTo.PROJECT, Level.ACCOUNTABLE, True, "Answers for the project's delivery."),
    ("Tech Lead", AppliesTo.PROJECT, Level.RESPONSIBLE, True, "Owns the technical direction."),
    ("Developer", AppliesTo.PROJECT, Level.RESPONSIBLE, False, "Builds the product."),
    ("QA Engineer", AppliesTo.PROJECT, Level.RESPONSIBLE, False, "Tests the product."),
    ("Business Analyst", AppliesTo.BOTH, Level.RESPONSIBLE, False, "Gathers and writes requirements."),
    ("Sponsor", AppliesTo.PROJECT, Level.CONSULTED, True, "Funds the project and is consulted on scope."),
    ("Advisor", AppliesTo.BOTH, Level.CONSULTED, False, "Gives expert advice."),
    ("Stakeholder", AppliesTo.BOTH, Level.INFORMED, False, "Kept informed of progress."),
]

FIRST_NAMES = [
    "Ana",
    "Carlos",
    "Lucía",
    "Javier",
    "María",
    "Diego",
    "Sofía",
    "Pablo",
    "Elena",
    "Andrés",
    "Carmen",
    "Miguel",
    "Laura",
    "Alejandro",
    "Isabel",
    "Jorge",
    "Paula",
    "Raúl",
    "Marta",
    "Sergio",
    "Emily",
    "James",
    "Olivia",
    "Michael",
    "Sarah",
    "David",
    "Emma",
    "Daniel",
    "Hannah",
    "Thomas",
]
LAST_NAMES = [
    "García",
    "Martínez",
    "López",
    "Sánchez",
    "Pérez",
    "Gómez",
    "Fernández",
    "Rodríguez",
    "Díaz",
    "Moreno",
    "Muñoz",
    "Álvarez",
    "Romero",
    "Navarro",
    "Torres",
    "Smith",
    "Johnson",
    "Brown",
    "Taylor",
    "Wilson",
    "Clarke",
    "Walker",
    "Wright",
    "Hughes",
    "Evans",
    "Ortega",
    "Castillo",
    "Vega",
    "Ramos",
    "Iglesias",
]
JOB_TITLES = {
    "DIR": ["Chief Executive Officer", "Executive Assistant"],
    "FIN": ["Finance Director", "Accountant", "Controller"],
    "PEO": ["People Director", "HR Partner", "Recruiter"],
    "ENG": ["CTO", "Engineering Manager"],
    "PLT": ["Platform Lead", "Site Reliability Engineer", "Backend Developer"],
    "APP": ["Applications Lead", "Frontend Developer", "Backend Developer", "Mobile Developer"],
    "QA": ["QA Lead", "QA Engineer", "Test Automation Engineer"],
    "OPS": ["Operations Director", "Operations Analyst"],
    "SUP": ["Support Lead", "Support Agent"],
    "MKT": ["Marketing Director", "Content Strategist", "Designer"],
    "SAL": ["Sales Director", "Account Executive", "Sales Engineer"],
}
# Head count per department; the first person of each is its head.
HEADCOUNT = {
    "DIR": 3,
    "FIN": 5,
    "PEO": 4,
    "ENG": 3,
    "PLT": 8,
    "APP": 10,
    "QA": 6,
    "OPS": 3,
    "SUP": 6,
    "MKT": 5,
    "SAL": 7,
}

PROJECTS = [
    # code, name, owning department, status, start (days from today), end (days from today)
    ("ERP", "ERP migration", "FIN", ProjectStatus.ACTIVE, -420, 120),
    ("PAY", "Payroll automation", "PEO", ProjectStatus.ACTIVE, -200, 20),
    ("K8S", "Kubernetes platform", "PLT", ProjectStatus.ACTIVE, -500, None),
    ("OBS", "Observability stack", "PLT", ProjectStatus.ON_HOLD, -150, None),
    ("WEB", "Customer portal", "APP", ProjectStatus.ACTIVE, -300, 200),
    ("MOB", "Mobile app 2.0", "APP", ProjectStatus.ACTIVE, -90, 270),
    ("TST", "Test automation", "QA", ProjectStatus.ACTIVE, -240, None),
    ("CRM", "CRM rollout", "SAL", ProjectStatus.ACTIVE, -180, 90),
    ("BRD", "Brand refresh", "MKT", ProjectStatus.CLOSED, -700, -400),
    ("HLP", "Help centre", "SUP", ProjectStatus.ACTIVE, -60, 150),
    ("DWH", "Data warehouse", "ENG", ProjectStatus.ACTIVE, -120, None),
    ("AI", "AI assistant pilot", "ENG", ProjectStatus.PROPOSED, 30, 210),
]
# The project left without an Accountable, so the dashboard has a gap to show.
UNOWNED_PROJECT = "DWH"


class Command(BaseCommand):
    help = "Load the demo company (idempotent: running it again changes nothing)."

    def handle(self, *args, **options) -> None:
        today = timezone.localdate()
        try:
            with transaction.atomic():
                created = self.seed(today)
        except ValidationError as error:
            raise CommandError(f"The demo data breaks a rule: {'; '.join(error.messages)}") from error
        if any(created.values()):
            summary = ", ".join(f"{count} {name}" for name, count in created.items())
            self.stdout.write(self.style.SUCCESS(f"Demo company loaded: {summary}."))
        else:
            self.stdout.write("Demo company already loaded; nothing changed.")

    def seed(self, today: datetime.date) -> dict[str, int]:
        rng = random.Random(2024)
        created = dict.fromkeys(["departments", "roles", "employees", "projects", "assignments"], 0)
        departments: dict[str, Department] = {}
        for code, name, parent in DEPARTMENTS:
            departments[code], new = Department.objects.get_or_create(
                code=code, defaults={"name": name, "parent": departments.get(parent)}
            )
            created["departments"] += new
        roles: dict[str, Role] = {}
        for name, applies_to, level, single, description in ROLES:
            roles[name], new = Role.objects.get_or_create(
                name=name,
                defaults={
                    "applies_to": applies_to,
                    "default_level": level,
                    "single_holder": single,
                    "description": description,
                },
            )
            created["roles"] += new

        staff: dict[str, list[Employee]] = {}
        number = 1000
        for code, count in HEADCOUNT.items():
            staff[code] = []
            for position in range(count):
                number += 1
                first = FIRST_NAMES[number % len(FIRST_NAMES)]
                last = LAST_NAMES[(number * 7) % len(LAST_NAMES)]
                titles = JOB_TITLES[code]
                employee, new = Employee.objects.get_or_create(
                    employee_number=f"E{number}",
                    defaults={
                        "first_name": first,
                        "last_name": last,
                        "work_email": f"{_ascii(first)}.{_ascii(last)}.{number}@example.com",
                        "job_title": titles[0] if position == 0 else rng.choice(titles[1:] or titles),
                        "department": departments[code],
                        "hire_date": today - datetime.timedelta(days=rng.randint(400, 3000)),
                    },
                )
                created["employees"] += new
                staff[code].append(employee)
        for code, parent in ((c, p) for c, _name, p in DEPARTMENTS):
            head = staff[code][0]
            boss = staff[parent][0] if parent else None
            for employee in staff[code]:
                manager = head if employee != head else boss
                if employee.manager_id is None and manager is not None:
                    employee.manager = manager
                    employee.save(update_fields=["manager"])

        projects: dict[str, Project] = {}
        for code, name, owner, status, start, end in PROJECTS:
            projects[code], new = Project.objects.get_or_create(
                code=code,
                defaults={
                    "name": name,
                    "department": departments[owner],
                    "status": status,
                    "start_date": today + datetime.timedelta(days=start),
                    "end_date": today + datetime.timedelta(days=end) if end is not None else None,
                },
            )
            created["projects"] += new

        def assign(employee: Employee, role: str, target, start: int, end: int | None = None, **extra) -> None:
            holds = Assignment.objects.for_target(target).filter(employee=employee, role=roles[role])
            if holds.exists():
                return
            services.assignment_create(
                employee=employee,
                role=roles[role],
                target=target,
                start_date=today + datetime.timedelta(days=start),
                end_date=today + datetime.timedelta(days=end) if end is not None else None,
                **extra,
            )
            created["assignments"] += 1

        for code, members in staff.items():
            department = departments[code]
            # A past head handed over to the current one, so history has something to show.
            if len(members) > 2:
                assign(members[1], "Head of Department", department, -900, -366)
                assign(members[0], "Head of Department", department, -365)
            else:
                assign(members[0], "Head of Department", department, -700)
            for member in members[1:]:
                assign(member, "Team Member", department, -350)

        engineers = staff["PLT"] + staff["APP"]
        testers = staff["QA"]
        for index, (code, _name, owner, status, start, end) in enumerate(PROJECTS):
            project = projects[code]
            team = staff[owner] if owner not in ("ENG",) else engineers
            start = min(start, 0) if status != ProjectStatus.PROPOSED else start
            last_day = end if end is not None and end < 0 else None
            if code != UNOWNED_PROJECT:
                manager = staff[owner][0]
                if start < -200 and last_day is None:
                    previous = staff[owner][-1]
                    assign(previous, "Project Manager", project, start, -101, allocation=40)
                    assign(manager, "Project Manager", project, -100, allocation=30)
                else:
                    assign(manager, "Project Manager", project, start, last_day, allocation=30)
            assign(staff["DIR"][index % len(staff["DIR"])], "Sponsor", project, start, last_day)
            lead = engineers[index % len(engineers)]
            assign(lead, "Tech Lead", project, start, last_day, allocation=30)
            for offset in range(3):
                developer = engineers[(index * 3 + offset + 1) % len(engineers)]
                if developer == lead:
                    continue
                finish = 25 if offset == 2 and last_day is None and start < 0 else last_day  # some end within 30 days
                assign(developer, "Developer", project, start + 10, finish, allocation=rng.choice([20, 25, 30]))
            assign(testers[index % len(testers)], "QA Engineer", project, start + 20, last_day, allocation=25)
            assign(team[-1], "Stakeholder", project, start, last_day)
        # One person over-allocated, so the dashboard's workload gap has an example.
        assign(engineers[0], "Business Analyst", projects["WEB"], -30, allocation=60)
        assign(engineers[0], "Advisor", projects["K8S"], -30, allocation=40)
        return created


def _ascii(name: str) -> str:
    table = str.maketrans("áéíóúüñÁÉÍÓÚÜÑ", "aeiouunAEIOUUN")
    return name.translate(table).lower()
