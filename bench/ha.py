#!/usr/bin/env python3
"""Benchmarks of the high-availability topology (ops/cluster), written to docs/benchmarks.md.

    .venv/bin/python bench/ha.py [--repetitions 10] [--requests 300] [--write]

1. Write outage when the writer dies: a steady stream of writes through the
   app (tests/cluster_client.py), kill -9 of the current writer, the longest
   gap between two acknowledged writes; every acknowledged write checked on
   the survivor. The killed node is restarted and caught up between runs, so
   each repetition kills the node that took over last time.
2. Cost of the proxy: the same admin page from gunicorn with DATABASE_URL
   through HAProxy's writer endpoint and straight to that node, requests
   alternating between the two servers; medians and their ratio.
3. Replication: a 100,000-assignment company (generate_company) loaded
   through the writer; the other node's lag sampled during the load, and the
   time from the end of the load until both nodes hold the same GTIDs.

Everything runs on 127.0.0.1 in a temporary directory that is removed after.
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.report import write_section
from tests.topology import ROOT, Topology, http_get, session_snippet

SECTION = "## High availability"
STREAM = 600


def failover_runs(topology: Topology, repetitions: int) -> list[dict]:
    runs = []
    writer = 1
    for repetition in range(repetitions):
        prefix = f"F{repetition}"
        stream = topology.app_background("writes", "--prefix", prefix, "--count", str(STREAM), "--interval", "0.01")
        assert stream.stdout is not None
        acks = [json.loads(stream.stdout.readline()) for _ in range(100)]
        topology.run("kill", str(writer))
        killed_at = time.time()
        out, err = stream.communicate(timeout=300)
        if stream.returncode != 0:
            raise SystemExit(f"write stream failed: {err[-2000:]}")
        acks += [json.loads(line) for line in out.splitlines() if line.startswith("{")]
        times = [a["t"] for a in acks if a["event"] == "ack"]
        outage = max(b - a for a, b in itertools.pairwise(times) if b > killed_at)
        survivor = 2 if writer == 1 else 1
        query = f"SELECT employee_number FROM org_employee WHERE employee_number LIKE '{prefix}%'"
        rows = topology.sql(survivor, query).split()
        expected = [f"{prefix}{i:06d}" for i in range(STREAM)]
        runs.append(
            {
                "killed": writer,
                "outage": outage,
                "acknowledged": len(times),
                "lost": len(set(expected) - set(rows)),
                "duplicates": len(rows) - len(set(rows)),
            }
        )
        print(f"failover {repetition + 1}: node {writer} killed, writes resumed after {outage:.2f} s", flush=True)
        topology.run("start", str(writer))
        topology.wait_for(topology.caught_up, 60, f"node {writer} caught up")
        writer = survivor
    return runs


def session_cookie(topology: Topology) -> str:
    done = topology.manage("shell", "-c", session_snippet("bench", superuser=True))
    if done.returncode != 0:
        raise SystemExit(done.stderr[-2000:])
    return done.stdout.strip().splitlines()[-1]


def proxy_cost(topology: Topology, requests: int) -> dict:
    writer = topology.via("WRITER")
    credentials = topology.env["DATABASE_URL"].split("//")[1].split("@")[0]
    direct = f"mysql://{credentials}@127.0.0.1:{topology.env[f'NODE{writer}_PORT']}/projman"
    cookie = {"Cookie": f"sessionid={session_cookie(topology)}"}
    page = "/admin/org/assignment/?status=current"
    samples: dict[str, list[float]] = {"haproxy": [], "direct": []}
    with (
        topology.serve(DATABASE_REPLICA_URL="") as through_proxy,
        topology.serve(DATABASE_URL=direct, DATABASE_REPLICA_URL="") as straight,
    ):
        for name, base in (("haproxy", through_proxy), ("direct", straight)):
            status, _ = http_get(base + page, cookie)
            if status != 200:
                raise SystemExit(f"{name}: {page} answered {status}")
        for _ in range(requests):
            for name, base in (("haproxy", through_proxy), ("direct", straight)):
                start = time.perf_counter()
                http_get(base + page, cookie)
                samples[name].append(time.perf_counter() - start)
    medians = {name: statistics.median(values) for name, values in samples.items()}
    return {"page": page, "requests": requests, **medians, "ratio": medians["haproxy"] / medians["direct"]}


def replication_lag(topology: Topology) -> dict:
    writer = topology.via("WRITER")
    other = 2 if writer == "1" else 1
    lags: list[int] = []
    loading = threading.Event()
    loading.set()

    def sample() -> None:
        while loading.is_set():
            lag = topology.slave_status(other).get("Seconds_Behind_Master", "NULL")
            lags.append(int(lag) if lag.isdigit() else 0)
            time.sleep(0.2)

    sampler = threading.Thread(target=sample)
    sampler.start()
    start = time.monotonic()
    done = topology.manage(
        "generate_company", "--employees", "10000", "--projects", "1000", "--assignments", "100000", "--replace"
    )
    loaded = time.monotonic()
    loading.clear()
    sampler.join()
    if done.returncode != 0:
        raise SystemExit(done.stderr[-2000:])
    topology.wait_for(topology.caught_up, 300, "both nodes equal after the load")
    equal = time.monotonic()
    return {
        "load_seconds": loaded - start,
        "max_lag": max(lags, default=0),
        "median_lag": statistics.median(lags) if lags else 0,
        "until_equal": equal - loaded,
    }


def report(runs: list[dict], proxy: dict, lag: dict) -> str:
    outages = [r["outage"] for r in runs]
    lost = sum(r["lost"] for r in runs)
    duplicates = sum(r["duplicates"] for r in runs)
    acknowledged = sum(r["acknowledged"] for r in runs)
    return "\n".join(
        [
            "### Write outage when the writer dies (goal: at most 3 s, nothing acknowledged lost)",
            "",
            "| repetitions | median outage | worst outage | acknowledged writes | lost | written twice |",
            "|--:|--:|--:|--:|--:|--:|",
            f"| {len(runs)} | {statistics.median(outages):.2f} s | {max(outages):.2f} s | {acknowledged} "
            f"| {lost} | {duplicates} |",
            "",
            "Outage: the longest gap between two acknowledged writes after the kill -9, in a stream of one write "
            "every ~10 ms (an employee and an assignment through org.services, one transaction).",
            "",
            "### Cost of the proxy (goal: at most 1.1x)",
            "",
            "| page | requests each | median via HAProxy | median straight to the node | ratio |",
            "|---|--:|--:|--:|--:|",
            f"| `{proxy['page']}` | {proxy['requests']} | {proxy['haproxy'] * 1000:.1f} ms "
            f"| {proxy['direct'] * 1000:.1f} ms | {proxy['ratio']:.3f}x |",
            "",
            "### Replication during a bulk load",
            "",
            "| load (100,000 assignments + history) | max lag of the other node | median lag | until both equal |",
            "|--:|--:|--:|--:|",
            f"| {lag['load_seconds']:.1f} s | {lag['max_lag']} s | {lag['median_lag']:.0f} s "
            f"| {lag['until_equal']:.1f} s |",
        ]
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repetitions", type=int, default=10)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--write", action="store_true", help="record the results in docs/benchmarks.md")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="projman-ha-bench-") as scratch:
        topology = Topology(Path(scratch) / "db")
        topology.run("up")
        topology.load_env()
        try:
            migrated = topology.manage("migrate", "--verbosity", "0")
            if migrated.returncode != 0:
                raise SystemExit(migrated.stderr[-2000:])
            runs = failover_runs(topology, args.repetitions)
            proxy = proxy_cost(topology, args.requests)
            lag = replication_lag(topology)
        finally:
            topology.run("down", check=False)
    table = report(runs, proxy, lag)
    print(table)
    if args.write:
        command = f".venv/bin/python bench/ha.py --repetitions {args.repetitions} --requests {args.requests} --write"
        path = write_section(SECTION, table, command)
        print(f"written to {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
