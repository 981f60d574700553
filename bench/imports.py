#!/usr/bin/env python3
"""Time ``import_org employees`` against MariaDB's own loader and against django-import-export, on one MariaDB.

    .venv/bin/python bench/imports.py [--rows 100000] [--small 10000] [--skip-peer] [--write]

On a fresh database (PROJMAN_BENCH_DATABASE_URL, default mysql://root@127.0.0.1:3306/projimp_bench, dropped and
created again), with 50 departments in place and the employee table emptied before each run:

1. ``LOAD DATA LOCAL INFILE`` of the same rows into the same table (org_employee, ids and foreign keys resolved
   beforehand, no history): the physical limit;
2. our import of the CSV file (``org.imports.engine.run_import``: parse, full validation, bulk writes with a
   history row for each employee, one transaction), then the same file again (nothing to write), then a day's
   changes into the full table (every hundredth employee promoted, a tenth of those under a new manager, and
   100 new hires);
3. django-import-export's bulk mode (use_bulk, batch_size 2000, skip_diff, cached instance loader) on the same
   file, without the manager column: its bulk mode cannot point to rows of the same batch;
4. queries per import at the small and the full size, and the peak of Python memory (tracemalloc, in runs of
   their own since tracing slows everything down).

Rows per second are wall clock of the call, in this process. ``--write`` puts the table under "## Imports" in
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import io
import math
import os
import re
import shlex
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from urllib.parse import unquote, urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.generate import MariaDB, shown_path  # noqa: E402
from bench.report import write_section  # noqa: E402

DEFAULT_URL = "mysql://root@127.0.0.1:3306/projimp_bench"
SECTION = "## Imports"
DEPARTMENTS = 50
MANAGER_SPAN = 8


def employee_rows(count: int) -> list[tuple]:
    """(number, first, last, email, title, department code, manager number, hire date); managers come first."""
    return [
        (
            f"E{i:06d}",
            f"First{i}",
            f"Last{i}",
            f"e{i}@example.com",
            "Engineer",
            f"D{i % DEPARTMENTS:02d}",
            f"E{(i - 1) // MANAGER_SPAN:06d}" if i else "",
            f"2020-01-{i % 28 + 1:02d}",
        )
        for i in range(count)
    ]


def daily_changes(rows: list[tuple]) -> list[tuple]:
    """A day's file from HR into the full table: every hundredth employee promoted (a tenth of them moved under
    the top manager as well), and a hundred new hires."""
    changed = [
        (*row[:4], "Senior Engineer", row[5], rows[0][0] if i % 1000 == 0 else row[6], row[7])
        for i, row in enumerate(rows)
        if i and i % 100 == 0
    ]
    return changed + employee_rows(len(rows) + 100)[len(rows) :]


HEADER = ("employee_number", "first_name", "last_name", "work_email", "job_title", "department", "manager", "hire_date")


def as_csv(rows: list[tuple]) -> bytes:
    return ("\n".join([",".join(HEADER), *(",".join(r) for r in rows)]) + "\n").encode()


def as_xlsx(rows: list[tuple]) -> bytes:
    """The rows as a workbook written by openpyxl, as export_org writes one (inline strings, no declared size)."""
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("employees")
    sheet.append(HEADER)
    for row in rows:
        sheet.append(row)
    saved = io.BytesIO()
    workbook.save(saved)
    return saved.getvalue()


def setup_django(url: str) -> None:
    os.environ.update(DEBUG="false", DATABASE_URL=url)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "projman.settings")
    import django

    django.setup()


def empty_employees() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SET FOREIGN_KEY_CHECKS = 0")
        for table in ("org_historicalemployee", "org_employee"):
            cursor.execute(f"TRUNCATE TABLE {table}")
        cursor.execute("SET FOREIGN_KEY_CHECKS = 1")


def load_data_infile(url: str, rows: list[tuple], directory: Path, *, with_history: bool = False) -> float:
    """Seconds for LOAD DATA LOCAL INFILE of ``rows`` into org_employee (and, ``with_history``, of the same rows
    into org_historicalemployee as "+" records, as the import writes them), committed, on a connection of its own."""
    import MySQLdb
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT code, id FROM org_department")
        department_id = dict(cursor.fetchall())
    lines = []
    for i, (number, first, last, email, title, department, manager, hired) in enumerate(rows, start=1):
        manager_id = str(int(manager[1:]) + 1) if manager else r"\N"
        lines.append(
            "\t".join([str(i), number, first, last, email, title, str(department_id[department]), manager_id, hired])
        )
    path = directory / "employees.tsv"
    path.write_text("\n".join(lines) + "\n")
    history = directory / "history.tsv"
    history.write_text("".join(f"{line}\t2026-01-01 00:00:00\tbench\t+\n" for line in lines))
    parts = urlsplit(url)
    link = MySQLdb.connect(
        host="127.0.0.1",
        port=parts.port or 3306,
        user=unquote(parts.username or "root"),
        password=unquote(parts.password or ""),
        database=parts.path.lstrip("/"),
        charset="utf8mb4",
        local_infile=1,
    )
    try:
        cursor = link.cursor()
        started = time.perf_counter()
        columns = (
            "id, employee_number, first_name, last_name, work_email, job_title, department_id, manager_id, hire_date"
        )
        cursor.execute(
            f"LOAD DATA LOCAL INFILE '{path}' INTO TABLE org_employee CHARACTER SET utf8mb4 "
            f"FIELDS TERMINATED BY '\\t' LINES TERMINATED BY '\\n' ({columns})"
        )
        if with_history:
            cursor.execute(
                f"LOAD DATA LOCAL INFILE '{history}' INTO TABLE org_historicalemployee CHARACTER SET utf8mb4 "
                "FIELDS TERMINATED BY '\\t' LINES TERMINATED BY '\\n' "
                f"({columns}, history_date, history_change_reason, history_type)"
            )
        link.commit()
        seconds = time.perf_counter() - started
        cursor.execute("SELECT COUNT(*) FROM org_employee")
        assert cursor.fetchone()[0] == len(rows), "LOAD DATA did not load every row"
    finally:
        link.close()
    return seconds


def peak_rss(url: str, path: Path | None) -> int:
    """Peak resident memory (VmHWM, which unlike ru_maxrss does not carry over this process's own size through
    fork and exec), in bytes, of a fresh ``manage.py import_org employees PATH`` process (or, with no path, of one
    that only loads Django: the floor every command starts from)."""
    env = {**os.environ, "DEBUG": "false", "DATABASE_URL": url}
    command = ["import_org", "employees", str(path)] if path else ["check"]
    script = (
        "from django.core.management import execute_from_command_line\n"
        f"execute_from_command_line(['manage.py', *{command!r}])\n"
        "import re\n"
        "print('MAXRSS', re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1))\n"
    )
    env.setdefault("DJANGO_SETTINGS_MODULE", "projman.settings")
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    found = re.search(r"MAXRSS (\d+)", done.stdout)
    if done.returncode or not found:
        sys.exit(f"import_org in a subprocess failed:\n{done.stdout}{done.stderr}")
    return int(found.group(1)) * 1024


def ours(data: bytes, filename: str = "employees.csv") -> tuple[float, object, dict[str, float]]:
    """Seconds, the report, and the seconds of each phase, told apart by the import's progress calls: reading and
    checking the cells ends with the last "checking" call, planning with the first "writing" one."""
    from org.imports.engine import run_import

    marks: dict[str, float] = {}

    def progress(phase: str, done: int, total: int) -> None:
        if phase == "checking" or "writing" not in marks:
            marks[phase] = time.perf_counter()

    started = time.perf_counter()
    report = run_import("employees", data, filename=filename, progress=progress)
    ended = time.perf_counter()
    if not report.ok:
        sys.exit(f"our import failed: {report.problems[:3]}")
    writing = marks.get("writing", ended)
    phases = {"check": marks["checking"] - started, "plan": writing - marks["checking"], "write": ended - writing}
    return ended - started, report, phases


def where_the_time_goes(
    results: dict[str, float], phases: dict[str, float], xlsx_phases: dict[str, float], n: int
) -> str:
    load, both = results["load"], results["load2"]
    budget = 2 * load - both  # what a 0.5x import may spend beyond loading the rows and their history rows
    return (
        f"Where the time goes in the first import_org ({n:,} rows, phases of the same run): reading and checking the"
        f" cells {phases['check']:.2f} s, planning (duplicates, references, loops) {phases['plan']:.2f} s, writing"
        f" {phases['write']:.2f} s. Writing is the database's own time: the INSERT statements of the rows and, per"
        " batch, the INSERT … SELECT that copies their history rows, while the import prepares the next batch in"
        " the meantime. The history rows are what the goal cannot absorb: LOAD DATA itself runs at"
        f" {load / both:.2f}× of its own speed when it loads them too, which leaves {budget:.2f} s of the 0.5×"
        f" budget for reading, checking and planning {n:,} rows and for everything an INSERT costs the server"
        f" beyond LOAD DATA; reading, checking and planning alone take {phases['check'] + phases['plan']:.2f} s."
        " Memory: checking the whole file before writing (duplicates, references and loops across all rows) keeps"
        " some state per row, so Python allocations grow with the rows; the CSV is parsed as it is read and new"
        " rows become plain dicts of values a batch at a time, which keeps the process's peak RSS under 3× for 10×"
        " the rows. From the XLSX workbook (openpyxl's, with inline strings), reading and checking"
        f" the cells took {xlsx_phases['check']:.2f} s: the sheet's XML is read by expat as it is unpacked, with"
        " openpyxl reading only the workbook around it."
    )


def peer(data: bytes) -> float:
    """django-import-export in bulk mode, as its documentation advises for speed."""
    import tablib
    from import_export import fields, resources, widgets
    from import_export.instance_loaders import CachedInstanceLoader

    from org.models import Department, Employee

    class EmployeeResource(resources.ModelResource):
        department = fields.Field("department", "department", widgets.ForeignKeyWidget(Department, "code"))

        class Meta:
            model = Employee
            fields = (
                "employee_number",
                "first_name",
                "last_name",
                "work_email",
                "job_title",
                "department",
                "hire_date",
            )
            import_id_fields = ("employee_number",)
            use_bulk = True
            batch_size = 2000
            skip_diff = True
            instance_loader_class = CachedInstanceLoader

    dataset = tablib.Dataset().load(data.decode(), format="csv")
    del dataset["manager"]
    started = time.perf_counter()
    result = EmployeeResource().import_data(dataset, dry_run=False, use_transactions=True, raise_errors=True)
    seconds = time.perf_counter() - started
    if result.has_errors() or result.has_validation_errors():
        sys.exit("django-import-export reported errors")
    return seconds


def counted_queries(data: bytes) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from org.imports.engine import run_import

    with CaptureQueriesContext(connection) as queries:
        run_import("employees", data)
    return len(queries)


def peak_memory(data: bytes) -> int:
    from org.imports.engine import run_import

    tracemalloc.start()
    try:
        run_import("employees", data)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--skip-peer", action="store_true", help="leave out django-import-export")
    parser.add_argument("--write", action="store_true", help="record the table in docs/benchmarks.md")
    options = parser.parse_args()
    url = os.environ.get("PROJMAN_BENCH_DATABASE_URL", DEFAULT_URL)
    mariadb = MariaDB(url)
    mariadb.recreate()
    setup_django(url)
    from django.core.management import call_command

    from org.imports.engine import BATCH_SIZE
    from org.models import Department, Employee

    call_command("migrate", verbosity=0)
    Department.objects.bulk_create(Department(code=f"D{i:02d}", name=f"Department {i}") for i in range(DEPARTMENTS))
    rows = employee_rows(options.rows)
    data, small = as_csv(rows), as_csv(rows[: options.small])
    n = options.rows
    results: dict[str, float] = {}
    try:
        with tempfile.TemporaryDirectory(prefix="projman-bench-") as directory:
            empty_employees()
            results["load"] = load_data_infile(url, rows, Path(directory))
            print(f"LOAD DATA LOCAL INFILE: {results['load']:.2f} s", flush=True)
            empty_employees()
            results["load2"] = load_data_infile(url, rows, Path(directory), with_history=True)
            print(f"LOAD DATA LOCAL INFILE, rows and history: {results['load2']:.2f} s", flush=True)
            rss = {0: peak_rss(url, None)}
            for size, content in ((options.small, small), (n, data)):
                empty_employees()
                path = Path(directory) / f"employees-{size}.csv"
                path.write_bytes(content)
                rss[size] = peak_rss(url, path)
            print(f"peak RSS: {rss}", flush=True)
        empty_employees()
        results["ours"], report, phases = ours(data)
        assert Employee.history.count() == n
        print(f"import_org: {results['ours']:.2f} s ({report.summary()[0]})", flush=True)
        results["again"], report, _ = ours(data)
        assert report.changes == 0 and Employee.history.count() == n
        print(f"import_org, unchanged file: {results['again']:.2f} s ({report.summary()[0]})", flush=True)
        changes = daily_changes(rows)
        results["delta"], report, _ = ours(as_csv(changes))
        delta_summary = report.summary()[0]
        assert report.counts["employees"].created == 100 and Employee.objects.count() == n + 100
        print(f"import_org, a day's changes: {results['delta']:.2f} s ({delta_summary})", flush=True)
        empty_employees()
        results["xlsx"], report, xlsx_phases = ours(as_xlsx(rows), "employees.xlsx")
        assert report.counts["employees"].created == n
        print(f"import_org, XLSX: {results['xlsx']:.2f} s (reading and checking {xlsx_phases['check']:.2f} s)")
        if not options.skip_peer:
            empty_employees()
            results["peer"] = peer(data)
            print(f"django-import-export bulk: {results['peer']:.2f} s", flush=True)
        queries = {}
        for size, content in ((options.small, small), (n, data)):
            empty_employees()
            queries[size] = counted_queries(content)
        print(f"queries: {queries}", flush=True)
        memory = {}
        for size, content in ((options.small, small), (n, data)):
            empty_employees()
            memory[size] = peak_memory(content)
        print(f"peak memory: {memory}", flush=True)
    finally:
        mariadb.sql(f"DROP DATABASE IF EXISTS `{mariadb.name}`")

    def rate(seconds: float) -> str:
        return f"{n / seconds:,.0f}"

    load = results["load"]
    lines = [
        "| run | seconds | rows/s | vs LOAD DATA |",
        "|---|--:|--:|--:|",
        f"| `LOAD DATA LOCAL INFILE` (no validation, no history) | {load:.2f} | {rate(load)} | 1.00× |",
        f"| `LOAD DATA LOCAL INFILE` of the rows and of their history rows | {results['load2']:.2f} "
        f"| {rate(results['load2'])} | {load / results['load2']:.2f}× |",
        f"| import_org (full validation, + {n:,} history rows) | {results['ours']:.2f} | {rate(results['ours'])} "
        f"| {load / results['ours']:.2f}× |",
        f"| import_org, same file again (writes nothing) | {results['again']:.2f} | {rate(results['again'])} "
        f"| {load / results['again']:.2f}× |",
    ]
    lines.append(
        f"| import_org, a day's changes into the {n:,} ({delta_summary}) | {results['delta']:.2f} "
        f"| {len(changes) / results['delta']:,.0f} | |"
    )
    lines.append(
        f"| import_org of the same rows from an XLSX workbook (as export_org writes one) | {results['xlsx']:.2f} "
        f"| {rate(results['xlsx'])} | {load / results['xlsx']:.2f}× |"
    )
    if "peer" in results:
        lines.append(
            f"| django-import-export bulk mode (no manager column, no history) | {results['peer']:.2f} "
            f"| {rate(results['peer'])} | {load / results['peer']:.2f}× |"
        )
    lines += [
        "",
        f"| rows | batches of {BATCH_SIZE:,} | queries | queries per batch | peak Python allocations (tracemalloc) "
        "| peak RSS of the import_org process |",
        "|--:|--:|--:|--:|--:|--:|",
    ]
    for size in (options.small, n):
        batches = math.ceil(size / BATCH_SIZE)
        lines.append(
            f"| {size:,} | {batches} | {queries[size]} | {queries[size] / batches:.1f} "
            f"| {memory[size] / 2**20:.0f} MiB | {rss[size] / 2**20:.0f} MiB |"
        )
    lines.append(f"| 0 (`manage.py check`: Django loaded) | | | | | {rss[0] / 2**20:.0f} MiB |")
    table = "\n".join(lines)
    ratio, rss_ratio = memory[n] / memory[options.small], rss[n] / rss[options.small]
    speed, faster = results["load"] / results["ours"], results["again"] < results["ours"]
    body = (
        f"{n:,} employees (50 departments, a manager tree {MANAGER_SPAN} wide), one MariaDB, one run each; "
        "wall clock of the call in one Python process.\n\n"
        f"- Goal import_org ≥ 0.5× LOAD DATA: **{'met' if speed >= 0.5 else 'not met'}** ({speed:.2f}×; "
        f"{results['load2'] / results['ours']:.2f}× of LOAD DATA writing the same rows and history rows).\n"
        f"- Goal unchanged re-import faster than the first: **{'met' if faster else 'not met'}**"
        " (and it writes nothing).\n"
        f"- Goal peak memory at {n:,} < 3× that at {options.small:,}: peak RSS of the process {rss_ratio:.1f}× "
        f"(**{'met' if rss_ratio < 3 else 'not met'}**); Python allocations alone (tracemalloc) {ratio:.1f}× "
        f"(**{'met' if ratio < 3 else 'not met'}**).\n\n"
        + table
        + "\n\n"
        + where_the_time_goes(results, phases, xlsx_phases, n)
    )
    print("\n" + body)
    if options.write:
        command = shlex.join([shown_path(Path(sys.executable)), shown_path(Path(sys.argv[0])), *sys.argv[1:]])
        print(f"\nwrote {write_section(SECTION, body, command).relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
