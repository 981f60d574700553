"""Fill the database with a made-up company of a given size that keeps every rule of ``org.services``.

Rows go in with ``bulk_create`` (through simple_history, so each gets its "+" history record) instead of the
services, whose per-row lock and rival query would take hours at this size. The rules are therefore kept by
construction, and proven before the assignments are written: each one passes ``assignment_check_fields`` and
``assignment_conflicts`` in memory, or the whole transaction is rolled back.
"""

from __future__ import annotations

import datetime
import random
import time
import unicodedata
from collections.abc import Sequence
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, transaction
from django.db.models import Model
from django.utils import timezone
from simple_history.utils import bulk_create_with_history

from org.models import AppliesTo, Assignment, Department, Employee, Level, Project, ProjectStatus, Role
from org.selectors import projects_without_accountable
from org.services import assignments_batch_violations

Period = tuple[datetime.date, datetime.date | None]
Target = Department | Project
DAY = datetime.timedelta(days=1)
BATCH_SIZE = 2000
MANAGER_SPAN = 6  # employee i reports to employee (i - 1) // 6: always someone earlier, so no cycle can form
SPANISH_FIRST = ("Ana", "Carlos", "Lucía", "Javier", "María", "Pablo", "Elena", "Diego", "Sofía", "Álvaro", "Iñigo")
ENGLISH_FIRST = ("Olivia", "James", "Emily", "Oliver", "Grace", "Henry", "Charlotte", "George", "Amelia", "Thomas")
SPANISH_LAST = ("García", "Fernández", "López", "Martínez", "Sánchez", "Pérez", "Gómez", "Díaz", "Muñoz", "Ibáñez")
ENGLISH_LAST = ("Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "Wright", "Evans")
FIRST_NAMES, LAST_NAMES = SPANISH_FIRST + ENGLISH_FIRST, SPANISH_LAST + ENGLISH_LAST
JOB_TITLES = ("Engineer", "Senior Engineer", "Data Analyst", "QA Engineer", "Accountant", "Designer", "Team Lead")
AREAS = ("Engineering", "Finance", "Operations", "Sales", "People", "Legal", "Marketing", "Research")
UNITS = ("Platform", "Payments", "Data", "Support", "Procurement", "Analytics", "Compliance", "Field", "Design")
WORKS = ("Revamp", "Migration", "Rollout", "Audit", "Portal", "Upgrade", "Pilot", "Integration")
ROLES = (  # name, applies to, default level, single holder
    ("Project Manager", AppliesTo.PROJECT, Level.ACCOUNTABLE, True),
    ("Sponsor", AppliesTo.PROJECT, Level.ACCOUNTABLE, False),
    ("Product Owner", AppliesTo.PROJECT, Level.RESPONSIBLE, True),
    ("Tech Lead", AppliesTo.PROJECT, Level.RESPONSIBLE, True),
    ("Developer", AppliesTo.PROJECT, Level.RESPONSIBLE, False),
    ("QA", AppliesTo.PROJECT, Level.RESPONSIBLE, False),
    ("Analyst", AppliesTo.BOTH, Level.RESPONSIBLE, False),
    ("Head of Department", AppliesTo.DEPARTMENT, Level.ACCOUNTABLE, True),
    ("Deputy Head", AppliesTo.DEPARTMENT, Level.RESPONSIBLE, True),
    ("Team Member", AppliesTo.DEPARTMENT, Level.RESPONSIBLE, False),
    ("Advisor", AppliesTo.BOTH, Level.CONSULTED, False),
    ("Stakeholder", AppliesTo.BOTH, Level.INFORMED, False),
)
PROJECT_MIX = ("Developer",) * 5 + ("QA", "QA", "Analyst", "Analyst", "Advisor", "Stakeholder")
DEPARTMENT_MIX = ("Team Member",) * 6 + ("Analyst", "Advisor", "Stakeholder")
ALLOCATIONS = {"A": (None, 10, 20, 50), "R": (None, 20, 50, 50, 80, 100), "C": (None, 0, 5, 10), "I": (None, 0)}
CHAIN_LENGTHS = (1, 1, 1, 2, 2, 3)  # periods an employee holds one ordinary role on one target
STATUS_WEIGHTS = (10, 45, 10, 35)  # in ProjectStatus order: proposed, active, on hold, closed
REASON = "generate_company"  # the history_change_reason of every "+" record written here
ORG_MODELS: tuple[type[Model], ...] = (Assignment, Project, Employee, Role, Department)  # referrers first


def ascii_lower(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()


def by_depth(objs: list[Model], depths: list[int]) -> list[list[Model]]:
    """Tree nodes level by level: a parent is inserted, and has its id, before its children point to it."""
    return [[o for o, depth in zip(objs, depths, strict=True) if depth == level] for level in range(max(depths) + 1)]


def clip(periods: list[Period], employee: Employee) -> list[Period]:
    """Keep ``periods`` within the employment: none before the hire, every one ended by the leave date."""
    kept: list[Period] = []
    for start, end in periods:
        start = max(start, employee.hire_date)
        if employee.leave_date is not None:
            end = employee.leave_date if end is None else min(end, employee.leave_date)
        if end is None or start <= end:
            kept.append((start, end))
    return kept


def violations(assignments: Sequence[Assignment]) -> list[str]:
    """Every rule of org.services, checked in memory between the generated assignments."""
    return [
        f"{a}: {message}"
        for a, errors in zip(assignments, assignments_batch_violations(assignments), strict=True)
        for messages in errors.values()
        for message in messages
    ]


class Command(BaseCommand):
    help = "Fill an empty database with a generated company whose assignments keep every rule of org.services."

    def add_arguments(self, parser: CommandParser) -> None:
        for name in ("--employees", "--projects", "--assignments"):
            parser.add_argument(name, type=int, required=True)
        parser.add_argument("--departments", type=int, help="Default: one per 50 employees, at least 5.")
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--as-of", type=datetime.date.fromisoformat, help="The day taken as today (YYYY-MM-DD).")
        parser.add_argument("--replace", action="store_true", help="Delete the org data and its history first.")

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.monotonic()
        n_employees, n_projects, total = options["employees"], options["projects"], options["assignments"]
        n_departments = max(5, n_employees // 50) if options["departments"] is None else options["departments"]
        if n_employees < 1 or n_departments < 1 or n_projects < 0 or total < 0:
            raise CommandError("Need at least one employee and one department, and no negative counts.")
        if not connection.features.can_return_rows_from_bulk_insert:
            # Without ids back from bulk inserts, simple_history re-reads every row with one giant OR query.
            raise CommandError("This database does not return ids from bulk inserts (needs SQLite 3.35+ or MariaDB).")
        self.rng = random.Random(options["seed"])
        self.as_of: datetime.date = options["as_of"] or timezone.localdate()
        self.now = timezone.now()  # one history_date for the whole generation
        with transaction.atomic():
            existing = {m._meta.verbose_name_plural: m._default_manager.count() for m in ORG_MODELS}
            if any(existing.values()) and not options["replace"]:
                found = ", ".join(f"{count} {name}" for name, count in existing.items() if count)
                raise CommandError(f"The database already holds org data ({found}); pass --replace to delete it.")
            if options["replace"]:
                self.wipe()
            departments = self.make_departments(n_departments)
            self.employees = self.make_employees(n_employees, departments)
            self.stayers = [e for e in self.employees if e.leave_date is None]
            roles = {n: Role(name=n, applies_to=to, default_level=lv, single_holder=one) for n, to, lv, one in ROLES}
            self.save(Role, list(roles.values()))
            projects = self.make_projects(n_projects, departments)
            departments_since = (self.as_of - 3650 * DAY, None)  # departments are open-ended
            assignments = self.make_assignments(total, roles, [(d, departments_since) for d in departments] + projects)
            problems = violations(assignments)
            if problems:
                raise CommandError(f"{len(problems)} rule violations, nothing written:\n" + "\n".join(problems[:20]))
            self.stdout.write(f"checked {len(assignments)} assignments with org.services: no rule broken")
            self.save(Assignment, assignments)
        current = sum(a.is_active_on(self.as_of) for a in assignments)
        future = sum(a.start_date > self.as_of for a in assignments)
        lacking = projects_without_accountable(as_of=self.as_of).count()
        self.stdout.write(
            f"assignments: {current} current, {len(assignments) - current - future} past, {future} future; "
            f"{lacking} running projects lack an Accountable on {self.as_of}"
        )
        counts = f"{len(departments)} departments, {n_employees} employees ({n_employees - len(self.stayers)} left), "
        counts += f"{len(roles)} roles, {n_projects} projects, {total} assignments"
        rows = len(departments) + n_employees + len(roles) + n_projects + total
        elapsed = time.monotonic() - started
        self.stdout.write(self.style.SUCCESS(f"Done in {elapsed:.1f} s: {rows} rows ({counts}), each with its history"))

    def save(self, model: type[Model], *batches: list[Model]) -> None:
        """Insert the batches in order, so rows may point to rows of an earlier batch; each gets its "+" record."""
        began = time.monotonic()
        for objs in batches:
            bulk_create_with_history(objs, model, BATCH_SIZE, default_date=self.now, default_change_reason=REASON)
        rows = sum(map(len, batches))
        self.stdout.write(f"{model._meta.verbose_name_plural}: {rows} in {time.monotonic() - began:.1f} s")

    def wipe(self) -> None:
        # Raw deletes: QuerySet.delete() would load every row and write a "-" history record for each. Self-references
        # go first, since MariaDB checks foreign keys row by row within one DELETE.
        Employee.objects.update(manager=None)
        Department.objects.update(parent=None)
        with connection.cursor() as cursor:
            for table in [t for m in ORG_MODELS for t in (m._meta.db_table, m.history.model._meta.db_table)]:
                cursor.execute(f"DELETE FROM {connection.ops.quote_name(table)}")
        self.stdout.write("deleted the org data and its history")

    def make_departments(self, count: int) -> list[Department]:
        rng, departments, depths = self.rng, [], []
        roots = min(count, rng.randint(3, 6))
        may_have_children: list[int] = []  # depth < 3, so the tree is at most four levels deep
        for i in range(count):
            at = rng.choice(may_have_children) if i >= roots else None
            parent = None if at is None else departments[at]
            name = AREAS[i % len(AREAS)] if parent is None else f"{parent.name.split()[0]} {rng.choice(UNITS)}"
            departments.append(Department(code=f"D{i + 1:04d}", name=name, parent=parent))
            depths.append(0 if at is None else depths[at] + 1)
            if depths[-1] < 3:
                may_have_children.append(i)
        self.save(Department, *by_depth(departments, depths))
        return departments

    def make_employees(self, count: int, departments: list[Department]) -> list[Employee]:
        rng, as_of, employees, depths = self.rng, self.as_of, [], []
        first_leaf = max(1, (count - 2) // MANAGER_SPAN + 1)  # nobody reports to them: only they may have left
        leave_chance = 0.05 * count / max(1, count - first_leaf)
        for i in range(count):
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            email = f"{ascii_lower(first)}.{ascii_lower(last)}.{i + 1:06d}@projman.example"
            manager = employees[(i - 1) // MANAGER_SPAN] if i else None
            department = manager.department if manager and rng.random() < 0.7 else rng.choice(departments)
            hired = as_of - DAY * rng.randint(60, 15 * 365)
            leaves = i >= first_leaf and rng.random() < leave_chance
            employee = Employee(employee_number=f"E{i + 1:06d}", first_name=first, last_name=last, work_email=email)
            employee.job_title, employee.department, employee.manager = rng.choice(JOB_TITLES), department, manager
            employee.hire_date = hired
            employee.leave_date = hired + DAY * rng.randint(30, (as_of - hired).days - 1) if leaves else None
            employees.append(employee)
            depths.append(depths[(i - 1) // MANAGER_SPAN] + 1 if i else 0)
        self.save(Employee, *by_depth(employees, depths))
        return employees

    def make_projects(self, count: int, departments: list[Department]) -> list[tuple[Project, Period]]:
        """Projects, each with the window its assignments fall in."""
        rng, as_of, projects = self.rng, self.as_of, []
        for i in range(count):
            status, end = rng.choices(ProjectStatus.values, weights=STATUS_WEIGHTS)[0], None
            if status == ProjectStatus.CLOSED:
                start = as_of - DAY * rng.randint(400, 3000)
                end = start + DAY * rng.randint(90, 365)
            elif status == ProjectStatus.PROPOSED:
                start = as_of + DAY * rng.randint(15, 365) if rng.random() < 0.7 else None
            else:
                start = as_of - DAY * rng.randint(30, 1500)
                end = None if rng.random() < 0.5 else as_of + DAY * rng.randint(30, 700)
            project = Project(code=f"P{i + 1:04d}", name=f"{rng.choice(UNITS)} {rng.choice(WORKS)}", status=status)
            project.department, project.start_date, project.end_date = rng.choice(departments), start, end
            projects.append((project, (start or as_of + 30 * DAY, end)))
        self.save(Project, [p for p, _ in projects])
        return projects

    def periods(self, window: Period, count: int, max_gap: int, to_end: float) -> list[Period]:
        """Up to ``count`` periods one after another inside ``window``; with chance ``to_end`` the last one lasts to
        the end of the window (stays open in an open window)."""
        (start, end), found = window, []
        for k in range(count):
            stop = start + DAY * self.rng.randint(60, 900)
            if (end is not None and stop >= end) or (k == count - 1 and self.rng.random() < to_end):
                return [*found, (start, end)] if end is None or start <= end else found
            found.append((start, stop))
            start = stop + DAY * (1 + self.rng.randint(0, max_gap))
        return found

    def pick(self, period: Period) -> Employee:
        """Someone employed for the whole period, so hand-overs leave no gap; failing that, anyone still here."""
        for _ in range(30):
            employee, (start, end) = self.rng.choice(self.employees), period
            left = employee.leave_date
            if employee.hire_date <= start and (left is None or (end is not None and end <= left)):
                return employee
        return self.rng.choice(self.stayers)

    def assignment(self, employee: Employee, role: Role, target: Target, period: Period) -> Assignment:
        # The level is always written out: the database rejects the blank "use the role's default" value.
        assignment = Assignment(employee=employee, role=role, level=role.default_level, start_date=period[0])
        assignment.end_date, assignment.allocation = period[1], self.rng.choice(ALLOCATIONS[role.default_level])
        setattr(assignment, "department" if isinstance(target, Department) else "project", target)
        return assignment

    def make_assignments(
        self, total: int, roles: dict[str, Role], targets: list[tuple[Target, Period]]
    ) -> list[Assignment]:
        """Exactly ``total`` assignments over ``targets``, each target given with the window its assignments fall in."""
        rng, made = self.rng, []
        projects = [(t, window) for t, window in targets if isinstance(t, Project)]
        departments = [(t, window) for t, window in targets if isinstance(t, Department)]
        running = [p for p, _ in projects if p.status == ProjectStatus.ACTIVE]
        unled = {id(p) for p in rng.sample(running, max(1, len(running) // 30) if running else 0)}
        # Accountable and single-holder roles: per target, a timeline of periods that follow each other, each held
        # by one person, so no two holders can overlap.
        for target, window in targets:
            in_project = isinstance(target, Project)
            # No gap between Accountables, but in a few projects the last one stepped down yesterday, unreplaced.
            accountable_window = (window[0], self.as_of - DAY) if id(target) in unled else window
            accountable = self.periods(accountable_window, rng.randint(1, 4), max_gap=0, to_end=1.0)
            accountable_roles = ("Project Manager",) * 4 + ("Sponsor",) if in_project else ("Head of Department",)
            timelines = [(accountable_roles, accountable)]
            for name in ("Product Owner", "Tech Lead") if in_project else ("Deputy Head",):
                timelines.append(((name,), self.periods(window, rng.randint(1, 3), max_gap=90, to_end=0.8)))
            for names, period in [(names, period) for names, periods in timelines for period in periods]:
                employee, role = self.pick(period), roles[rng.choice(names)]
                made += [self.assignment(employee, role, target, p) for p in clip([period], employee)]
        if len(made) > total:  # only in tiny runs; dropping assignments cannot break a rule
            rng.shuffle(made)
            del made[total:]
        # Ordinary roles: one chain of separate periods per employee, role and target, so none overlaps itself.
        used: set[tuple[int, str, int]] = set()
        soon = self.as_of + 90 * DAY
        for _ in range(20 * total):
            if len(made) >= total:
                break
            in_project = bool(projects) and (rng.random() < 0.8 or not departments)
            target, (start, end) = rng.choice(projects if in_project else departments)
            role = roles[rng.choice(PROJECT_MIX if in_project else DEPARTMENT_MIX)]
            employee = rng.choice(self.employees)
            first = start + DAY * rng.randint(0, max(0, (min(end or soon, soon) - start).days))
            chain = clip(self.periods((first, end), rng.choice(CHAIN_LENGTHS), max_gap=365, to_end=0.5), employee)
            chain = [period for period in chain if period[0] <= soon]  # staffing is planned a few months ahead only
            if chain and (id(employee), role.name, id(target)) not in used:
                used.add((id(employee), role.name, id(target)))
                made += [self.assignment(employee, role, target, p) for p in chain[: total - len(made)]]
        if len(made) < total:
            raise CommandError(f"Could not fit {total} assignments; allow more employees, projects or departments.")
        self.stdout.write(f"laid out {len(made)} assignments")
        return made
