#!/usr/bin/env python3
"""Load on the deployed stack (gunicorn with ops/gunicorn.conf.py, HAProxy, the MariaDB pair), in docs/benchmarks.md.

    .venv/bin/python bench/load.py [--seconds 10] [--workers 2] [--threads 4] [--write]

Needs wrk (Debian: apt-get install wrk), mariadbd and haproxy. In one run on 127.0.0.1:

1. ops/cluster up, migrate, the large company (generate_company: 10,000 employees, 1,000 projects,
   100,000 assignments), collectstatic, a logged-in superuser session.
2. Two gunicorn servers started like the image (ops/entrypoint serve, DEBUG off): one through HAProxy (writer and
   reader endpoints), one with DATABASE_URL straight to the writer node and no reader. For each, wrk at 1, 8 and
   32 connections on the dashboard, a search, a project page and an admin changelist: requests per second,
   p50 and p99 latency, and every non-2xx answer or socket error counted.
3. Failover under load: 8 client threads reading those pages through HAProxy and a stream of writes through the
   app's services (tests/cluster_client.py), kill -9 of the writer node; the share of failed reads, when the
   last one failed, and the longest gap between acknowledged writes.
"""

from __future__ import annotations

import argparse
import collections
import http.client
import itertools
import json
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.report import write_section
from tests.topology import ROOT, Topology, http_get, serving, session_snippet

SECTION = "## Load on the deployed stack"
CONNECTIONS = (1, 8, 32)
COMPANIES = {
    "large": ("--employees", "10000", "--projects", "1000", "--assignments", "100000"),
    # To try the script in a minute; its figures are not the benchmark.
    "small": ("--employees", "100", "--projects", "10", "--assignments", "300"),
}


def manage(topology: Topology, *args: str) -> str:
    done = topology.manage(*args, timeout=900)  # the large company takes 25 s on an idle machine
    if done.returncode != 0:
        raise SystemExit(f"manage.py {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return done.stdout


def as_served(app: dict[str, str], server: dict[str, str], *args: str) -> str:
    """manage.py with the servers' settings (DEBUG off, their SECRET_KEY)."""
    done = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env={**app, **server}, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise SystemExit(f"manage.py {args[0]} failed:\n{done.stderr[-3000:]}")
    return done.stdout.strip()


def pages(topology: Topology) -> dict[str, str]:
    code = (
        # From the writer: right after the company was generated, the reader may not have applied it all yet.
        "from multidb.pinning import pin_this_thread; pin_this_thread();"
        "from org.models import *;"
        "p = Assignment.objects.current().exclude(project=None).select_related('project').first().project;"
        "e = Employee.objects.order_by('pk').first();"
        "print(p.code, e.last_name[:4])"
    )
    project, word = manage(topology, "shell", "-c", code).split()[-2:]
    return {
        "dashboard": "/",
        "search": f"/responsible/?q={urllib.parse.quote(word)}",
        "project": f"/projects/{project}/",
        "admin changelist": "/admin/org/assignment/?status=current",
    }


def wrk(url: str, cookie: str, connections: int, seconds: int) -> dict[str, float]:
    command = [
        shutil.which("wrk") or "wrk",
        f"--threads={min(connections, 2)}",
        f"--connections={connections}",
        f"--duration={seconds}s",
        "--timeout=10s",
        "--latency",
        "--header",
        f"Cookie: sessionid={cookie}",
        url,
    ]
    out = subprocess.run(command, capture_output=True, text=True, check=True, timeout=seconds + 60).stdout

    def latency(label: str) -> float:
        value, unit = re.search(rf"^\s+{label}\s+([\d.]+)(us|ms|s)\s*$", out, re.MULTILINE).groups()
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    requests = int(re.search(r"(\d+) requests in", out).group(1))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50": latency("50%"),
        "p99": latency("99%"),
        "requests": requests,
        "errors": (int(non_2xx.group(1)) if non_2xx else 0)
        + (sum(map(int, socket_errors.groups())) if socket_errors else 0),
    }


def steady_load(targets: dict[str, str], urls: dict[str, str], cookie: str, seconds: int) -> list[dict]:
    # wrk counts a redirect as a success: make sure each page answers 200 to this session (not the login page).
    for target, base in targets.items():
        for path in urls.values():
            status, _ = http_get(base + path, {"Cookie": f"sessionid={cookie}"})
            if status != 200:
                raise SystemExit(f"{target}: {path} answered {status}, not 200")
    rows = []
    for page, path in urls.items():
        for connections in CONNECTIONS:
            for target, base in targets.items():
                result = wrk(base + path, cookie, connections, seconds)
                rows.append({"page": page, "connections": connections, "target": target, **result})
                print(
                    f"{page:17} c={connections:2} {target:8} {result['rps']:7.1f} req/s "
                    f"p50 {result['p50']:7.1f} ms p99 {result['p99']:7.1f} ms errors {result['errors']}",
                    flush=True,
                )
    return rows


def reader(base: str, paths: list[str], cookie: str, stop: threading.Event, log: list[tuple]) -> None:
    """One keep-alive client reading the pages in turn, as a browser would, logging (time, answered 200, path,
    status or error)."""
    host, port = base.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    for path in itertools.cycle(paths):
        if stop.is_set():
            break
        try:
            connection.request("GET", path, headers={"Cookie": f"sessionid={cookie}"})
            response = connection.getresponse()
            response.read()
            outcome = str(response.status)
        except (OSError, http.client.HTTPException) as exc:
            outcome = type(exc).__name__
            connection.close()
        log.append((time.time(), outcome == "200", path, outcome))


def failover(topology: Topology, base: str, urls: dict[str, str], cookie: str, clients: int = 8) -> dict:
    log: list[tuple] = []
    stop = threading.Event()
    threads = [
        threading.Thread(target=reader, args=(base, list(urls.values()), cookie, stop, log)) for _ in range(clients)
    ]
    stream = topology.app_background("writes", "--prefix", "LOAD", "--count", "1500", "--interval", "0.01")
    assert stream.stdout is not None
    acks = [json.loads(stream.stdout.readline()) for _ in range(50)]
    for thread in threads:
        thread.start()
    time.sleep(5)
    writer = topology.via("WRITER")
    topology.run("kill", writer)
    killed_at = time.time()
    time.sleep(15)
    stop.set()
    for thread in threads:
        thread.join()
    out, err = stream.communicate(timeout=300)
    if stream.returncode != 0:
        raise SystemExit(f"write stream failed: {err[-2000:]}")
    acks += [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    times = [a["t"] for a in acks if a["event"] == "ack"]
    failures = collections.Counter(f"{path} {outcome}" for _t, ok, path, outcome in log if not ok)
    log = [(t, ok) for t, ok, _path, _outcome in log]
    after = [(t, ok) for t, ok in log if t >= killed_at]
    failed_after = [t for t, ok in after if not ok]
    last_failure = max(failed_after, default=killed_at)
    window = [ok for t, ok in after if t <= last_failure] if failed_after else []
    return {
        "killed": writer,
        "reads": len(log),
        "reads_after_kill": len(after),
        "failed_reads": sum(1 for _t, ok in log if not ok),
        "failed_before_kill": sum(1 for t, ok in log if not ok and t < killed_at),
        "failure_window": last_failure - killed_at,
        "failed_share_in_window": (window.count(False) / len(window)) if window else 0.0,
        "write_outage": max(b - a for a, b in itertools.pairwise(times) if b > killed_at),
        "writes_acknowledged": len(times),
        "clients": clients,
        "failures": dict(failures.most_common()),
    }


def report(rows: list[dict], outcome: dict, args: argparse.Namespace) -> str:
    lines = [
        f"gunicorn through `ops/entrypoint serve` (ops/gunicorn.conf.py, DEBUG off, {args.workers} workers x "
        f"{args.threads} threads) on the large company (10,000 employees, 1,000 projects, 100,000 assignments), "
        f"logged in as a superuser; wrk, {args.seconds} s per cell, 1 or 2 wrk threads. *HAProxy*: DATABASE_URL and "
        "DATABASE_REPLICA_URL on HAProxy's writer and reader endpoints; *direct*: DATABASE_URL straight to the "
        "writer node, no reader. Both servers, HAProxy, both MariaDB nodes and wrk share the machine's CPUs.",
        "",
        "| page | connections | via | requests/s | p50 | p99 | errors |",
        "|---|--:|---|--:|--:|--:|--:|",
    ]
    for row in rows:
        lines.append(
            f"| {row['page']} | {row['connections']} | {row['target']} | {row['rps']:.1f} | {row['p50']:.1f} ms "
            f"| {row['p99']:.1f} ms | {row['errors']} of {row['requests']} |"
        )
    o = outcome
    lines += [
        "",
        "### Writer killed under load (goal: no failed reads; writes fail only during the outage)",
        "",
        f"{o['clients']} keep-alive clients reading the four pages in turn through HAProxy while a stream of writes "
        "(one employee and assignment every ~10 ms through org.services) runs; kill -9 of the writer node after 5 s, "
        "15 s more of load.",
        "",
        "| node killed | reads | failed reads | failed before the kill | last failed read after the kill "
        "| failed share until then | longest gap between acknowledged writes |",
        "|--:|--:|--:|--:|--:|--:|--:|",
        f"| {o['killed']} | {o['reads']} | {o['failed_reads']} | {o['failed_before_kill']} "
        f"| {o['failure_window']:.2f} s | {o['failed_share_in_window'] * 100:.1f} % | {o['write_outage']:.2f} s |",
        "",
        "Failed reads by page and answer: "
        + (", ".join(f"`{what}` {count}" for what, count in o["failures"].items()) or "none")
        + ".",
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=10, help="wrk duration per page, connection count and target")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--company", choices=sorted(COMPANIES), default="large")
    parser.add_argument("--write", action="store_true", help="record the results in docs/benchmarks.md")
    args = parser.parse_args()
    if args.write and args.company != "large":
        parser.error("--write records the large company only")
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed (Debian: apt-get install wrk)")
    with tempfile.TemporaryDirectory(prefix="projman-load-bench-") as scratch:
        topology = Topology(Path(scratch) / "db")
        topology.run("up")
        topology.load_env()
        try:
            manage(topology, "migrate", "--verbosity", "0")
            print("generating the large company…", flush=True)
            manage(topology, "generate_company", *COMPANIES[args.company])
            urls = pages(topology)
            writer = topology.via("WRITER")
            credentials = topology.env["DATABASE_URL"].split("//")[1].split("@")[0]
            direct = f"mysql://{credentials}@127.0.0.1:{topology.env[f'NODE{writer}_PORT']}/projman"
            server = {
                "DEBUG": "false",
                "SECRET_KEY": secrets.token_urlsafe(50),
                "ALLOWED_HOSTS": "127.0.0.1",
                "SESSION_COOKIE_SECURE": "false",
                "GUNICORN_WORKERS": str(args.workers),
                "GUNICORN_THREADS": str(args.threads),
            }
            app = topology.app_env()
            # As the image does at build time: with DEBUG off, for whitenoise's manifest.
            as_served(app, server, "collectstatic", "--noinput", "--verbosity", "0")
            # The session's signature and auth hash depend on SECRET_KEY: made with the servers' key.
            cookie = as_served(app, server, "shell", "-c", session_snippet("load", superuser=True)).splitlines()[-1]
            with (
                serving({**app, **server}) as via_haproxy,
                serving({**app, **server, "DATABASE_URL": direct, "DATABASE_REPLICA_URL": ""}) as straight,
            ):
                rows = steady_load({"HAProxy": via_haproxy, "direct": straight}, urls, cookie, args.seconds)
            with serving({**app, **server}) as via_haproxy:
                outcome = failover(topology, via_haproxy, urls, cookie)
            print(json.dumps(outcome), flush=True)
        finally:
            topology.run("down", check=False)
    table = report(rows, outcome, args)
    print(table)
    if args.write:
        command = (
            f".venv/bin/python bench/load.py --seconds {args.seconds} --workers {args.workers} "
            f"--threads {args.threads} --write"
        )
        path = write_section(SECTION, table, command)
        print(f"written to {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
