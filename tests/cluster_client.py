"""The app as a client of the ops/cluster topology, run in its own process.

Tests and benchmarks start this with the cluster's environment
(``source DIR/cluster.env``) so the app's own settings, router and services
talk to HAProxy exactly as a deployed app server would:

    python -m tests.cluster_client writes --prefix W --count 300
    python -m tests.cluster_client race --code RACE
    python -m tests.cluster_client admin
    python -m tests.cluster_client read-your-writes

Each prints JSON lines on stdout, flushed as they happen.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
import threading
import time


def emit(**fields) -> None:
    print(json.dumps(fields), flush=True)


def setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "projman.settings")
    os.environ.setdefault("DEBUG", "true")
    import django

    django.setup()


def writes(prefix: str, count: int, interval: float) -> None:
    """A steady stream of writes through org.services, each acknowledged on
    stdout once committed. A write whose outcome is unknown (the connection
    died) is retried; the unique employee number makes a retry of a write
    that did commit fail as a duplicate instead of writing it twice."""
    from django.db import IntegrityError, InterfaceError, OperationalError, connection, transaction

    from org import services
    from org.models import AppliesTo, Department, Employee, Level, Project, Role

    def once(i: int) -> str:
        with transaction.atomic():
            department, _ = Department.objects.get_or_create(code=f"{prefix}-D", defaults={"name": f"{prefix} dept"})
            project, _ = Project.objects.get_or_create(
                code=f"{prefix}-P", defaults={"name": f"{prefix} project", "department": department}
            )
            role, _ = Role.objects.get_or_create(
                name=f"{prefix} member", defaults={"applies_to": AppliesTo.BOTH, "default_level": Level.INFORMED}
            )
            employee = Employee.objects.create(
                employee_number=f"{prefix}{i:06d}",
                first_name="Stream",
                last_name=str(i),
                work_email=f"{prefix.lower()}{i}@example.com",
            )
            services.assignment_create(
                employee=employee, role=role, target=project, start_date=datetime.date(2025, 1, 1)
            )
        return "written"

    for i in range(count):
        attempts = 0
        while True:
            attempts += 1
            try:
                outcome = once(i)
            except IntegrityError:
                outcome = "already there"
            except (OperationalError, InterfaceError) as exc:
                connection.close()
                if attempts > 600:
                    emit(event="gave-up", i=i, error=str(exc))
                    sys.exit(1)
                time.sleep(0.05)
                continue
            break
        emit(event="ack", i=i, t=time.time(), outcome=outcome, attempts=attempts)
        time.sleep(interval)


def race(code: str) -> None:
    """Two app connections insert the same unique code at the same moment."""
    from django.db import IntegrityError, connection

    from org.models import Department

    barrier = threading.Barrier(2)
    results: list[str] = []

    def insert() -> None:
        barrier.wait(10)
        try:
            Department.objects.create(code=code, name="race")
            results.append("created")
        except IntegrityError:
            results.append("duplicate")
        finally:
            connection.close()

    threads = [threading.Thread(target=insert) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    emit(event="race", results=sorted(results))


def logged_in_client():
    from django.contrib.auth import get_user_model
    from django.test import Client

    user, _ = get_user_model().objects.get_or_create(
        username="cluster-hr", defaults={"is_staff": True, "is_superuser": True}
    )
    client = Client()
    client.force_login(user)
    return client


def admin() -> None:
    """The admin through HAProxy: a list, an add through the form, the new row shown."""
    from django.urls import reverse

    from org.models import Department

    client = logged_in_client()
    listing = client.get(reverse("admin:org_department_changelist"))
    added = client.post(reverse("admin:org_department_add"), _department_form("ADMIN-HA", "Added through HAProxy"))
    shown = client.get(reverse("admin:org_department_changelist") + "?q=ADMIN-HA")
    emit(
        event="admin",
        listing=listing.status_code,
        added=added.status_code,
        shown="Added through HAProxy" in shown.content.decode(),
        exists=Department.objects.filter(code="ADMIN-HA").exists(),
    )


def _department_form(code: str, name: str) -> dict[str, str]:
    data = {"code": code, "name": name, "parent": "", "active": "on"}
    for prefix in ("assignments", "assignments-2"):
        data.update({f"{prefix}-TOTAL_FORMS": "0", f"{prefix}-INITIAL_FORMS": "0"})
    return data


def read_your_writes(code: str) -> None:
    """A user adds a department and at once opens the list: they see it."""
    from django.urls import reverse

    client = logged_in_client()
    added = client.post(reverse("admin:org_department_add"), _department_form(code, f"Fresh {code}"))
    shown = client.get(reverse("admin:org_department_changelist") + f"?q={code}")
    emit(
        event="read-your-writes",
        added=added.status_code,
        pinned_cookie=any("pin" in name for name in client.cookies),
        seen=f"Fresh {code}" in shown.content.decode(),
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    w = sub.add_parser("writes")
    w.add_argument("--prefix", required=True)
    w.add_argument("--count", type=int, default=200)
    w.add_argument("--interval", type=float, default=0.02)
    r = sub.add_parser("race")
    r.add_argument("--code", required=True)
    sub.add_parser("admin")
    y = sub.add_parser("read-your-writes")
    y.add_argument("--code", required=True)
    args = parser.parse_args()
    setup()
    if args.command == "writes":
        writes(args.prefix, args.count, args.interval)
    elif args.command == "race":
        race(args.code)
    elif args.command == "admin":
        admin()
    else:
        read_your_writes(args.code)


if __name__ == "__main__":
    main()
