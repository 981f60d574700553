#!/usr/bin/env python3
"""Time ``manage.py generate_company`` at full size, on SQLite and on MariaDB.

    python3 bench/generate.py [--write] [--keep]

For each backend: a fresh database (a new SQLite file in a temporary directory; the MariaDB database named by
PROJMAN_BENCH_DATABASE_URL, dropped and created again), ``manage.py migrate``, then the timed generator run, wall
clock from process start to exit. Prints a markdown table; ``--write`` also puts it, with the date, the machine and
this command, under "## Company generator" in docs/benchmarks.md. ``--keep`` leaves the MariaDB database in place.

Standard library only. MariaDB is reached through the ``mariadb`` command-line client, and only on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import unquote, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.report import write_section

ROOT = Path(__file__).resolve().parent.parent
PYTHON = ROOT / ".venv" / "bin" / "python"
SIZE = ["--employees", "10000", "--projects", "1000", "--assignments", "100000"]
DEFAULT_URL = "mysql://root@127.0.0.1:3306/projman_bench"
LIMIT_SECONDS = 60
SECTION = "## Company generator"


def python() -> str:
    """The project's venv interpreter, which has Django and the MariaDB driver; else the one running this."""
    return str(PYTHON) if PYTHON.exists() else sys.executable


def manage(database_url: str, *args: str) -> str:
    env = {**os.environ, "DEBUG": "true", "DATABASE_URL": database_url}
    done = subprocess.run(
        [python(), "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    if done.returncode:
        sys.exit(f"manage.py {' '.join(args)} failed on {database_url}:\n{done.stdout}{done.stderr}")
    return done.stdout


def timed_run(database_url: str) -> tuple[int, float]:
    """Migrate, then time the generator; returns the rows it reports and the wall-clock seconds."""
    manage(database_url, "migrate", "--no-input", "-v", "0")
    started = time.perf_counter()
    output = manage(database_url, "generate_company", *SIZE)
    seconds = time.perf_counter() - started
    found = re.search(r"(\d+) rows", output)
    if not found:
        sys.exit(f"generate_company did not report its rows:\n{output}")
    return int(found.group(1)), seconds


class MariaDB:
    """The bench database on a local server, driven through the mariadb client."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.name = parts.path.lstrip("/")
        if parts.scheme != "mysql" or parts.hostname != "127.0.0.1":
            sys.exit(f"PROJMAN_BENCH_DATABASE_URL must be mysql://…@127.0.0.1/…, not {url!r}")
        if not re.fullmatch(r"\w*bench\w*", self.name):  # it is dropped: refuse anything not named for the bench
            sys.exit(f"Refusing to drop and recreate {self.name!r}: the bench database name must contain 'bench'.")
        client = shutil.which("mariadb") or shutil.which("mysql")
        if client is None:
            sys.exit("The mariadb command-line client is not installed.")
        self.url = url
        self.shown_url = url.replace(f":{parts.password}@", ":***@") if parts.password else url
        self.command = [client, "--protocol=TCP", "-h", "127.0.0.1", "-P", str(parts.port or 3306), "-N", "-B"]
        self.command += ["-u", unquote(parts.username or "root")]
        self.env = {**os.environ, "MYSQL_PWD": unquote(parts.password or "")}

    def sql(self, statement: str) -> str:
        done = subprocess.run(
            [*self.command, "-e", statement], env=self.env, capture_output=True, text=True, check=False
        )
        if done.returncode:
            sys.exit(f"mariadb: {statement}\n{done.stderr}")
        return done.stdout.strip()

    def recreate(self) -> None:
        self.sql(f"DROP DATABASE IF EXISTS `{self.name}`")
        self.sql(f"CREATE DATABASE `{self.name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")


def shown_path(path: Path) -> str:
    """``path`` as typed from the repository root, or just its name when it lives elsewhere (python3 on the PATH)."""
    absolute = path.absolute()
    return str(absolute.relative_to(ROOT)) if absolute.is_relative_to(ROOT) else path.name


def write_generator_section(table: str, command: str) -> Path:
    body = (
        f"`manage.py generate_company {' '.join(SIZE)}` on a freshly migrated database, wall clock from process start "
        f'to exit; every row also gets its "+" history record, so twice as many rows are written.\n\n{table}'
    )
    return write_section(SECTION, body, command)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--write", action="store_true", help="record the table in docs/benchmarks.md")
    parser.add_argument("--keep", action="store_true", help="keep the MariaDB bench database afterwards")
    options = parser.parse_args()
    mariadb = MariaDB(os.environ.get("PROJMAN_BENCH_DATABASE_URL", DEFAULT_URL))

    results: list[tuple[str, int, float]] = []
    with tempfile.TemporaryDirectory(prefix="projman-bench-") as directory:
        rows, seconds = timed_run(f"sqlite:///{directory}/bench.sqlite3")
        version = subprocess.run(
            [python(), "-c", "import sqlite3; print(sqlite3.sqlite_version)"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        results.append((f"SQLite {version}", rows, seconds))
        print(f"SQLite: {rows} rows in {seconds:.1f} s", flush=True)
    mariadb.recreate()
    try:
        rows, seconds = timed_run(mariadb.url)
        version = mariadb.sql("SELECT VERSION()").split("-")[0]
        results.append((f"MariaDB {version}", rows, seconds))
        print(f"MariaDB: {rows} rows in {seconds:.1f} s", flush=True)
    finally:
        if not options.keep:
            mariadb.sql(f"DROP DATABASE IF EXISTS `{mariadb.name}`")

    table = "| Backend | Rows | Seconds |\n|---|--:|--:|\n"
    table += "\n".join(f"| {backend} | {rows:,} | {seconds:.1f} |" for backend, rows, seconds in results)
    print("\n" + table)
    if options.write:
        command = shlex.join([shown_path(Path(sys.executable)), shown_path(Path(sys.argv[0])), *sys.argv[1:]])
        if "PROJMAN_BENCH_DATABASE_URL" in os.environ:
            command = f"PROJMAN_BENCH_DATABASE_URL={shlex.quote(mariadb.shown_url)} {command}"
        print(f"\nwrote {write_generator_section(table, command).relative_to(ROOT)}")
    slow = [backend for backend, _, seconds in results if seconds >= LIMIT_SECONDS]
    if slow:
        print(f"\nOver the {LIMIT_SECONDS} s budget: {', '.join(slow)}", file=sys.stderr)
    return 1 if slow else 0


if __name__ == "__main__":
    sys.exit(main())
