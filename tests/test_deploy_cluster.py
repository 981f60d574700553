"""docker-compose's topology without containers: each service's command and environment, read from
docker-compose.yml, run as a process on 127.0.0.1 against two bare MariaDB nodes (`ops/cluster up --bare`).

What the containers add (images, volumes) is not run here; the order of the services, their commands, the
variables compose hands them and the scripts they run are: cluster-init on fresh nodes whose binary logs
already hold the image's own users, the two agents, HAProxy with ops/haproxy/haproxy.cfg, init, an app server.
"""

from __future__ import annotations

import contextlib
import getpass
import json
import os
import secrets
import shutil
import subprocess
import sys
import threading
import time

import pytest

from tests.deploy_files import compose, service_env
from tests.topology import CLUSTER, ROOT, http_get, require_cluster_tools, serving, session_snippet

pytestmark = [pytest.mark.mariadb, pytest.mark.cluster]

ENTRYPOINT = [sys.executable, str(ROOT / "ops" / "entrypoint")]


def _socket_sql(socket: str, statement: str, *, names: bool = False) -> str:
    options = ["-B"] if names else ["-N", "-B"]
    done = subprocess.run(
        ["mariadb", "--no-defaults", f"--socket={socket}", f"--user={getpass.getuser()}", *options, "-e", statement],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    require_cluster_tools()
    directory = tmp_path_factory.mktemp("compose") / "db"
    done = subprocess.run(
        [*CLUSTER, "--dir", str(directory), "--bare", "up"], capture_output=True, text=True, timeout=180
    )
    assert done.returncode == 0, done.stderr
    state = json.loads((directory / "state.json").read_text())
    sockets = {n: str(directory / f"node{n}" / "mariadbd.sock") for n in (1, 2)}
    dotenv = {
        "MARIADB_ROOT_PASSWORD": secrets.token_hex(16),
        "PROJMAN_REPL_PASSWORD": secrets.token_hex(16),
        "PROJMAN_DB_PASSWORD": secrets.token_hex(16),
        "PROJMAN_AGENT_PASSWORD": secrets.token_hex(16),
        "SECRET_KEY": secrets.token_hex(32),
        "PROJMAN_ADMIN_PASSWORD": secrets.token_hex(12),
        "DB1_PORT": str(state["node1_port"]),
        "DB2_PORT": str(state["node2_port"]),
        "AGENT1_PORT": str(state["agent1_port"]),
        "AGENT2_PORT": str(state["agent2_port"]),
        "WRITER_PORT": str(state["writer_port"]),
        "READER_PORT": str(state["reader_port"]),
        "STATS_PORT": str(state["stats_port"]),
        "SESSION_COOKIE_SECURE": "false",
    }
    # What the official image's first start leaves: root@127.0.0.1 with the password from .env, created with the
    # binary log on (the image's own users are in it), which cluster-init must not let replicate.
    for n in (1, 2):
        _socket_sql(
            sockets[n],
            f"CREATE USER 'root'@'127.0.0.1' IDENTIFIED BY '{dotenv['MARIADB_ROOT_PASSWORD']}';"
            "GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;"
            f"CREATE USER 'healthcheck'@'127.0.0.1' IDENTIFIED BY '{secrets.token_hex(8)}';",
        )
    processes: list[subprocess.Popen] = []
    yield {"dir": directory, "env": dotenv, "sockets": sockets, "processes": processes}
    for process in processes:
        process.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(10)
    subprocess.run([*CLUSTER, "--dir", str(directory), "down"], capture_output=True, timeout=180)


def _status(socket: str) -> str:
    return _socket_sql(socket, "SHOW SLAVE STATUS\\G", names=True)


def _service(stack, name: str, **overrides: str) -> dict[str, str]:
    return {**os.environ, **service_env(name, stack["env"]), **overrides}


def _command(name: str) -> list[str]:
    return [*ENTRYPOINT, *compose()["services"][name]["command"]]


def _start(stack, name: str, command: list[str], env: dict[str, str]) -> None:
    log = open(stack["dir"].parent / f"{name}.log", "ab")  # noqa: SIM115 — the child keeps it
    stack["processes"].append(subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT))


def _wait(predicate, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {seconds} s: {what}")
        time.sleep(0.3)


def test_cluster_init_sets_up_a_fresh_pair(stack):
    done = subprocess.run(
        _command("cluster-init"), cwd=ROOT, env=_service(stack, "cluster-init"), capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert "replication set up both ways; node 1 is the writer." in done.stdout
    one, two = stack["sockets"][1], stack["sockets"][2]
    assert _socket_sql(one, "SELECT @@read_only") == "0" and _socket_sql(two, "SELECT @@read_only") == "1"
    _socket_sql(one, "CREATE TABLE projman.probe (id INT PRIMARY KEY); INSERT INTO projman.probe VALUES (7)")
    _wait(
        lambda: _socket_sql(two, "SELECT COUNT(*) FROM information_schema.tables WHERE table_name='probe'") == "1",
        30,
        "probe on node 2",
    )
    _wait(lambda: _socket_sql(two, "SELECT id FROM projman.probe") == "7", 30, "row on node 2")
    for socket in (one, two):
        # The first node may have asked its peer before the peer had the replication user; it retries each second.
        _wait(lambda socket=socket: "Slave_IO_Running: Yes" in _status(socket), 30, f"replication into {socket}")
        status = _status(socket)
        assert "Slave_SQL_Running: Yes" in status and "Last_SQL_Errno: 0" in status, status


def test_agents_haproxy_init_and_an_app_server_come_up_as_compose_starts_them(stack):
    for n in (1, 2):
        _start(stack, f"agent{n}", _command(f"agent{n}"), _service(stack, f"agent{n}"))
    haproxy_env = _service(stack, "haproxy", PROJMAN_HAPROXY_SOCKET=str(stack["dir"].parent / "haproxy.sock"))
    haproxy = shutil.which("haproxy") or "/usr/sbin/haproxy"
    _start(stack, "haproxy", [haproxy, "-db", "-f", str(ROOT / "ops" / "haproxy" / "haproxy.cfg")], haproxy_env)

    done = subprocess.run(
        _command("init"), cwd=ROOT, env=_service(stack, "init"), capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "administrator 'admin' created." in done.stdout
    # Written through HAProxy's writer endpoint, replicated to node 2.
    _wait(
        lambda: _socket_sql(stack["sockets"][2], "SELECT COUNT(*) FROM projman.auth_user WHERE is_superuser") == "1",
        30,
        "the administrator on node 2",
    )
    app = _service(stack, "app1")
    with serving({**app, "ALLOWED_HOSTS": "127.0.0.1"}) as url:
        status, body = http_get(url + "/healthz")
        assert (status, json.loads(body)) == (200, {"status": "ok", "writer": "ok", "reader": "ok"})
        status, _ = http_get(url + "/accounts/login/")
        assert status == 200


def test_cluster_init_on_a_later_start_keeps_the_pair_and_picks_a_writer(stack):
    done = subprocess.run(
        _command("cluster-init"), cwd=ROOT, env=_service(stack, "cluster-init"), capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert "the pair replicates already; writer kept." in done.stdout
    # Both nodes restarted: both boot read-only, and cluster-init makes one the writer again.
    _socket_sql(stack["sockets"][1], "SET GLOBAL read_only = ON")
    done = subprocess.run(
        _command("cluster-init"), cwd=ROOT, env=_service(stack, "cluster-init"), capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert "node 1 made the writer." in done.stdout
    assert _socket_sql(stack["sockets"][1], "SELECT @@read_only") == "0"


def test_reads_keep_answering_and_writes_move_when_the_writer_dies(stack):
    """Last: it kills node 1 under concurrent reads, some from a browser pinned to the writer by a recent write.
    No read fails: a query in flight on node 1 as it dies is run again on a new connection (projman.middleware),
    which HAProxy sends to node 2 (its agent puts it in the read pool as soon as node 1 refuses connections and
    it has applied all it received); a pinned read waits for node 2 to become the writer."""
    app = {**_service(stack, "app1"), "ALLOWED_HOSTS": "127.0.0.1"}
    made = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", session_snippet("reader", superuser=True)],
        cwd=ROOT,
        env=app,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert made.returncode == 0, made.stderr
    session = f"sessionid={made.stdout.strip().splitlines()[-1]}"
    readers = {"replica": {"Cookie": session}, "pinned": {"Cookie": f"{session}; multidb_pin_writes=y"}}
    with serving(app) as url:
        page = url + "/admin/org/assignment/"
        assert all(http_get(page, headers)[0] == 200 for headers in readers.values())
        answers: list[tuple[str, float, int]] = []
        stop = threading.Event()

        def read(name: str) -> None:
            while not stop.is_set():
                started = time.monotonic()
                answers.append((name, started, http_get(page, readers[name])[0]))

        threads = [threading.Thread(target=read, args=(name,)) for name in [*["replica"] * 5, "pinned"]]
        for thread in threads:
            thread.start()
        _wait(lambda: len(answers) >= 30, 30, "30 reads before the kill")
        subprocess.run([*CLUSTER, "--dir", str(stack["dir"]), "kill", "1"], check=True, capture_output=True)
        killed_at = time.monotonic()
        time.sleep(4)
        stop.set()
        for thread in threads:
            thread.join()
        after_kill = [(name, status) for name, t, status in answers if t > killed_at]
        failed = [(name, round(t - killed_at, 2), status) for name, t, status in answers if status != 200]
        assert not failed, f"reads that failed (reader, seconds after the kill, status): {failed}"
        assert {name for name, _status in after_kill} == set(readers), "both kinds of reader went on reading"
        _wait(lambda: http_get(url + "/healthz")[0] == 200, 10, "the writer endpoint on node 2")
    assert _socket_sql(stack["sockets"][2], "SELECT @@read_only") == "0"
