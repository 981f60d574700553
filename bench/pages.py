#!/usr/bin/env python3
"""Staff page latency on a small and a large company, on MariaDB, written to docs/benchmarks.md.

    .venv/bin/python bench/pages.py [--requests 30] [--write]

Two databases on the MariaDB named by PROJMAN_BENCH_DATABASE_URL (default
mysql://root@127.0.0.1:3306/…): a 100-employee company and the bench
generator's large one (10,000 employees, 1,000 projects, 100,000
assignments). Each is served by gunicorn (one sync worker, DEBUG off) on
127.0.0.1, both at once, and every page of each is requested in turn (small,
then large, page after page), round after round, by a logged-in user, so a
change in the machine's load hits both alike; the medians are compared with each other and with a bare
Django view served the same way: ``/bench/bare/`` (bench/urls.py), a
login-required view rendering the base template and nothing else, through the
same gunicorn, middleware and session. /healthz (one SELECT 1, no session, no
template) is listed for scale.
Goals (issue 4): large at most 1.5 times small, and at most 3 times the bare view.
``--keep`` reuses the two databases of an earlier run instead of generating them again.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.report import write_section
from tests.topology import http_get, serving, session_snippet

ROOT = Path(__file__).resolve().parent.parent
SECTION = "## Staff pages"
BARE = "bare view (/bench/bare/)"
COLD = "dashboard, first request after a change"
COLD_SEARCH = "who is responsible, search, first request after a change"
#: Each page timed right after a write too (its remembered figures made again), under its row name.
COLD_PAGES = {COLD: "dashboard", COLD_SEARCH: "who is responsible, search"}
COLD_REPETITIONS = 5
GAP_KINDS = (
    "projects-without-accountable",
    "departments-without-accountable",
    "assignments-ending",
    "overallocated",
    "unassigned",
    "leavers",
)
SERVER = "mysql://root@127.0.0.1:3306"
SIZES = {
    "small": ["--employees", "100", "--projects", "10", "--assignments", "1000", "--departments", "20"],
    "large": ["--employees", "10000", "--projects", "1000", "--assignments", "100000"],
}


def manage(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=900
    )
    if done.returncode != 0:
        raise SystemExit(f"manage.py {' '.join(args)}: {done.stderr[-2000:]}")
    return done.stdout


def prepare(name: str, size: list[str], keep: bool) -> tuple[dict[str, str], str]:
    database = f"projman_bench_pages_{name}"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("DATABASE")},
        "DJANGO_SETTINGS_MODULE": "bench.settings",
        "DATABASE_URL": f"{SERVER}/{database}",
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(40),
        "ALLOWED_HOSTS": "127.0.0.1",
        "SESSION_COOKIE_SECURE": "false",
    }
    if not keep:
        generate(database, env, size)
    # Databases kept from an earlier run may predate a migration, and a fresh checkout has no static files.
    manage(env, "migrate", "--verbosity", "0")
    manage(env, "collectstatic", "--noinput", "--verbosity", "0")
    session = manage(env, "shell", "-c", session_snippet("bench-viewer")).strip().splitlines()[-1]
    return env, session


def generate(database: str, env: dict[str, str], size: list[str]) -> None:
    subprocess.run(
        [
            "mariadb",
            "--no-defaults",
            "-uroot",
            "-h127.0.0.1",
            "-P3306",
            "-e",
            f"DROP DATABASE IF EXISTS {database}; CREATE DATABASE {database} CHARACTER SET utf8mb4",
        ],
        check=True,
    )
    manage(env, "migrate", "--verbosity", "0")
    manage(env, "generate_company", *size)


def pages(env: dict[str, str]) -> dict[str, str]:
    """One of each page, on rows that exist in this database."""
    code = (
        "from org.models import *;"
        "p = Project.objects.order_by('pk').first(); d = Department.objects.filter(parent=None).first();"
        "e = Assignment.objects.current().select_related('employee').first().employee;"
        "print(p.code, d.code, e.employee_number)"
    )
    project, department, employee = manage(env, "shell", "-c", code).split()[-3:]
    return {
        BARE: "/bench/bare/",
        "/healthz (no session, no template)": "/healthz",
        "dashboard": "/",
        "who is responsible": "/responsible/",
        "who is responsible, search": "/responsible/?q=Garc",
        "project": f"/projects/{project}/",
        "department (top)": f"/departments/{department}/",
        "departments (org chart)": "/departments/",
        "employee": f"/employees/{employee}/",
        "employees (list)": "/employees/",
        "projects (list)": "/projects/",
        **{f"gap list: {kind}": f"/gaps/{kind}/" for kind in GAP_KINDS},
    }


def measure(
    companies: dict[str, tuple[dict[str, str], str, dict[str, str]]], rounds: int
) -> dict[str, dict[str, float]]:
    """Median time of each page of each company (name → (env, session, urls)), all served at once and requested
    in turn, page by page and company by company, so drift in the machine's load hits both companies alike."""
    with contextlib.ExitStack() as stack:
        bases = {name: stack.enter_context(serving(env)) for name, (env, _session, _urls) in companies.items()}
        headers = {name: {"Cookie": f"sessionid={session}"} for name, (_env, session, _urls) in companies.items()}
        for name, (_env, _session, urls) in companies.items():  # warm up, and check every page answers
            for page, url in urls.items():
                status, _ = http_get(bases[name] + url, headers[name])
                if status != 200:
                    raise SystemExit(f"{name}: {page} ({url}) answered {status}")
        samples: dict[str, dict[str, list[float]]] = {
            name: {page: [] for page in urls} for name, (_e, _s, urls) in companies.items()
        }
        pages = list(next(iter(companies.values()))[2])
        for _ in range(rounds):
            for page in pages:
                for name, (_env, _session, urls) in companies.items():
                    start = time.perf_counter()
                    http_get(bases[name] + urls[page], headers[name])
                    samples[name][page].append(time.perf_counter() - start)
        medians = {
            name: {page: statistics.median(values) for page, values in by_page.items()}
            for name, by_page in samples.items()
        }
        # Some figures are remembered until the data changes: time the first request after a change.
        for name, (env, _session, urls) in companies.items():
            for row, page in COLD_PAGES.items():
                first_after_change = []
                for _ in range(COLD_REPETITIONS):
                    role = f"bench change {secrets.token_hex(6)}"
                    manage(env, "shell", "-c", f"from org.models import Role; Role.objects.create(name='{role}')")
                    start = time.perf_counter()
                    http_get(bases[name] + urls[page], headers[name])
                    first_after_change.append(time.perf_counter() - start)
                medians[name][row] = statistics.median(first_after_change)
    return medians


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=30, help="rounds over every page (default 30)")
    parser.add_argument("--write", action="store_true", help="record the results in docs/benchmarks.md")
    parser.add_argument("--keep", action="store_true", help="reuse the databases of an earlier run")
    args = parser.parse_args()
    companies = {}
    for size_name, size in SIZES.items():
        env, session = prepare(size_name, size, args.keep)
        companies[size_name] = (env, session, pages(env))
        print(f"{size_name}: ready", flush=True)
    medians = measure(companies, args.requests)
    small, large = medians["small"], medians["large"]
    bare = large[BARE]
    lines = [
        "| page | median, 100 employees | median, 10,000 employees | large / small (goal ≤ 1.5) "
        "| large / bare view (goal ≤ 3) |",
        "|---|--:|--:|--:|--:|",
    ]
    for name in small:
        lines.append(
            f"| {name} | {small[name] * 1000:.1f} ms | {large[name] * 1000:.1f} ms "
            f"| {large[name] / small[name]:.2f} | {large[name] / bare:.2f} |"
        )
    table = "\n".join(lines)
    steady = [name for name in small if name not in COLD_PAGES and name != BARE]
    worst_size = max(steady, key=lambda name: large[name] / small[name])
    worst_bare = max(steady, key=lambda name: large[name] / bare)

    def verdict(ratio: float, goal: float) -> str:
        return "met" if ratio <= goal else "**not met**"

    goals = (
        f"Goals (issue 4), every page but the rows after a change: large ≤ 1.5 × small — "
        f"{verdict(large[worst_size] / small[worst_size], 1.5)} (highest {large[worst_size] / small[worst_size]:.2f}, "
        f"{worst_size}); large ≤ 3 × the bare view — {verdict(large[worst_bare] / bare, 3)} "
        f"(highest {large[worst_bare] / bare:.2f}, {worst_bare})."
    )
    body = (
        "gunicorn (1 sync worker, DEBUG off) on MariaDB 10.11 at 127.0.0.1, logged-in viewer, "
        f"{args.requests} rounds over every page, medians; both companies served at once and their pages requested "
        "in turn (each page on the small, then the large one), so drift hits all alike.\n\n"
        f"{table}\n\n{goals}\n\n"
        "- The bare view is `/bench/bare/` (bench/urls.py): login required, renders the base template "
        "(navigation, language switch) and nothing else, through the same gunicorn, middleware and session.\n"
        "- Company-wide figures (dashboard counts, gap lists' rows, org chart, department tree, filter forms, the "
        "rows a search word matches) are remembered until the data changes (org.selectors.remembered, keyed by the "
        f"audit trail's newest ids): the rows '{COLD}' and '{COLD_SEARCH}' are those pages right after a write, "
        f"{COLD_REPETITIONS} times, median.\n"
        "- The two companies answer some lists with different numbers of rows (the small one has no unassigned "
        "employee; 'Garc' matches 5 people there and 472 in the large one), so those pages render more rows there."
    )
    print(table)
    print(goals)
    if args.write:
        keep = " --keep" if args.keep else ""
        path = write_section(SECTION, body, f".venv/bin/python bench/pages.py --requests {args.requests}{keep} --write")
        print(f"written to {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
