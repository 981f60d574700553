"""High availability against the real topology: two mariadbd and HAProxy via ops/cluster.

One cluster is brought up for the module, with a short HAProxy idle timeout
so the idle-connection test need not wait ten minutes. The app runs as a
separate process (tests/cluster_client.py) with the cluster's environment,
as an app server would. The tests run in order: the later ones take over the
state the failover left behind.
"""

from __future__ import annotations

import json
import subprocess
import time

import pytest

from tests.topology import CLUSTER, ROOT, Topology, http_get, require_cluster_tools

IDLE_TIMEOUT_SECONDS = 3

pytestmark = [pytest.mark.mariadb, pytest.mark.cluster]


@pytest.fixture(scope="module")
def topology(tmp_path_factory):
    require_cluster_tools()
    topology = Topology(tmp_path_factory.mktemp("cluster") / "db")
    topology.run("--idle-timeout", f"{IDLE_TIMEOUT_SECONDS}s", "up")
    topology.load_env()
    migrate = topology.manage("migrate", "--verbosity", "0", timeout=300)
    assert migrate.returncode == 0, migrate.stderr[-3000:]
    yield topology
    topology.run("down", check=False)


def test_up_refuses_a_directory_it_did_not_make(tmp_path):
    (tmp_path / "precious.txt").write_text("keep me")
    done = subprocess.run([*CLUSTER, "--dir", str(tmp_path), "up"], capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "was not made by ops/cluster" in done.stderr
    assert (tmp_path / "precious.txt").read_text() == "keep me"


def test_cluster_env_points_at_127_0_0_1_with_generated_credentials(topology):
    env = topology.env
    assert set(env) >= {
        "DATABASE_URL",
        "DATABASE_REPLICA_URL",
        "NODE1_PORT",
        "NODE2_PORT",
        "NODE1_SOCKET",
        "NODE2_SOCKET",
        "WRITER_PORT",
        "READER_PORT",
        "STATS_URL",
    }
    assert "@127.0.0.1:" + env["WRITER_PORT"] in env["DATABASE_URL"]
    assert "@127.0.0.1:" + env["READER_PORT"] in env["DATABASE_REPLICA_URL"]
    assert env["STATS_URL"].startswith("http://127.0.0.1:")
    password = env["DATABASE_URL"].split("//")[1].split("@")[0].split(":")[1]
    assert len(password) >= 32
    assert password not in (ROOT / "ops" / "cluster").read_text()
    assert (topology.dir / "cluster.env").stat().st_mode & 0o077 == 0


def test_reader_endpoint_spreads_over_both_nodes(topology):
    """The original's own check: repeated SELECT @@server_id through the reader."""
    seen = {topology.via("READER") for _ in range(20)}
    assert seen == {"1", "2"}
    assert {topology.via("WRITER") for _ in range(10)} == {"1"}


def test_cluster_status_sees_a_healthy_pair(topology):
    done = topology.manage("cluster_status", "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["healthy"] is True
    assert report["writer_server_id"] == 1
    table = topology.manage("cluster_status")
    assert table.returncode == 0 and "gtid_current_pos" in table.stdout


def test_cluster_status_fails_while_no_replica_acknowledges_the_writers_commits(topology):
    """Rpl_semi_sync_master_status stays ON with no replica to wait for: the clients count tells."""
    writer = int(topology.via("WRITER"))
    reader = 3 - writer
    clients = (
        "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS"
        " WHERE VARIABLE_NAME = 'RPL_SEMI_SYNC_MASTER_CLIENTS'"
    )
    topology.sql(reader, "SET GLOBAL rpl_semi_sync_slave_enabled = OFF; STOP SLAVE IO_THREAD; START SLAVE IO_THREAD")
    try:
        topology.wait_for(lambda: topology.sql(writer, clients) == "0", 10, "the writer has no semi-sync replica")
        status = topology.manage("cluster_status", "--json")
        assert status.returncode != 0
        [problem] = json.loads(status.stdout)["problems"]
        assert "has no replica acknowledging its writes (Rpl_semi_sync_master_clients=0" in problem
    finally:
        topology.sql(reader, "SET GLOBAL rpl_semi_sync_slave_enabled = ON; STOP SLAVE IO_THREAD; START SLAVE IO_THREAD")
    topology.wait_for(lambda: topology.sql(writer, clients) == "1", 10, "the reader acknowledges again")
    assert topology.manage("cluster_status").returncode == 0


def test_app_write_lands_on_writer_and_replicates(topology):
    acks = topology.app("writes", "--prefix", "R", "--count", "5", "--interval", "0")
    assert [a["outcome"] for a in acks] == ["written"] * 5
    count = "SELECT COUNT(*) FROM org_employee WHERE employee_number LIKE 'R%'"
    assert topology.sql(1, count) == "5"
    topology.wait_for(lambda: topology.sql(2, count) == "5", 10, "the writes replicated to node 2")
    history = "SELECT COUNT(*) FROM org_historicalassignment"
    topology.wait_for(lambda: topology.sql(1, history) == topology.sql(2, history), 10, "history replicated")


def test_an_import_through_the_writer_endpoint_replicates_rows_and_history(topology, tmp_path):
    """import_org writes from a thread of its own, and copies history rows with INSERT … SELECT: both replicate."""
    departments = tmp_path / "departments.csv"
    departments.write_text("code,name\nIMP,Imported\n")
    employees = tmp_path / "employees.csv"
    employees.write_text(
        "employee_number,first_name,last_name,work_email,department,manager\n"
        + "".join(
            f"IMP{i},First{i},Last{i},imp{i}@example.com,IMP,{f'IMP{i // 8}' if i else ''}\n" for i in range(4500)
        )
    )
    for kind, path in (("departments", departments), ("employees", employees)):
        done = topology.manage("import_org", kind, str(path), timeout=300)
        assert done.returncode == 0, done.stderr[-3000:]
    rows = "SELECT COUNT(*) FROM org_employee WHERE employee_number LIKE 'IMP%'"
    history = "SELECT COUNT(*) FROM org_historicalemployee WHERE employee_number LIKE 'IMP%' AND history_type = '+'"
    assert topology.sql(1, rows) == topology.sql(1, history) == "4500"
    topology.wait_for(lambda: topology.sql(2, history) == "4500", 20, "the import's history on node 2")
    assert topology.sql(2, rows) == "4500"
    for node in (1, 2):
        status = topology.slave_status(node)
        assert (status["Last_SQL_Errno"], status["Last_IO_Errno"]) == ("0", "0")


def test_admin_works_through_haproxy(topology):
    [result] = topology.app("admin")
    assert result == {"event": "admin", "listing": 200, "added": 302, "shown": True, "exists": True}


def test_unique_insert_race_gives_one_row_on_both_nodes(topology):
    """The original round-robined writes over both masters: this race broke replication."""
    for attempt in range(5):
        code = f"RACE{attempt}"
        [result] = topology.app("race", "--code", code)
        assert result["results"] == ["created", "duplicate"]
        query = f"SELECT COUNT(*) FROM org_department WHERE code = '{code}'"
        topology.wait_for(lambda q=query: topology.sql(2, q) == "1", 10, "the row on node 2")
        assert topology.sql(1, query) == "1"
    for node in (1, 2):
        status = topology.slave_status(node)
        assert (status["Last_SQL_Errno"], status["Last_IO_Errno"]) == ("0", "0")


@pytest.fixture(scope="module")
def app_server(topology):
    with topology.serve() as url:
        yield url


def test_idle_connection_past_the_proxy_timeout_is_reopened(topology, app_server):
    assert http_get(app_server + "/healthz") == (200, '{"status": "ok", "writer": "ok", "reader": "ok"}')
    time.sleep(IDLE_TIMEOUT_SECONDS + 2)  # HAProxy has closed the app's idle connections by now
    assert http_get(app_server + "/healthz")[0] == 200
    assert http_get(app_server + "/admin/login/")[0] == 200


def test_lagging_node_leaves_the_read_pool_and_returns(topology):
    topology.run("stop-replication", "2")
    topology.wait_for(lambda: {topology.via("READER") for _ in range(8)} == {"1"}, 5, "node 2 out of the read pool")
    topology.run("start-replication", "2")
    topology.wait_for(lambda: {topology.via("READER") for _ in range(12)} == {"1", "2"}, 10, "node 2 back in the pool")


def test_user_reads_their_own_write_while_a_replica_lags(topology):
    """Node 2 applies with a 3 s delay, within the lag bound, so it stays in the
    read pool; the user who just wrote still sees their write at once."""
    topology.sql(2, "STOP SLAVE; CHANGE MASTER TO MASTER_DELAY = 3; START SLAVE")
    try:
        for attempt in range(4):
            [result] = topology.app("read-your-writes", "--code", f"RYW{attempt}")
            assert result["added"] == 302
            assert result["seen"], result
    finally:
        topology.sql(2, "STOP SLAVE; CHANGE MASTER TO MASTER_DELAY = 0; START SLAVE")
    topology.wait_for(topology.caught_up, 15, "node 2 caught up again")


def test_writer_killed_mid_stream_fails_over_without_losing_acknowledged_writes(topology):
    stream = topology.app_background("writes", "--prefix", "K", "--count", "400", "--interval", "0.01")
    acks: list[dict] = []
    assert stream.stdout is not None
    while len(acks) < 60:
        line = stream.stdout.readline()
        assert line, stream.stderr.read() if stream.stderr else "stream ended"
        acks.append(json.loads(line))
    topology.run("kill", "1")
    killed_at = time.time()
    out, err = stream.communicate(timeout=120)
    assert stream.returncode == 0, err[-3000:]
    acks += [json.loads(line) for line in out.splitlines() if line.startswith("{")]

    acked = [a for a in acks if a["event"] == "ack"]
    assert [a["i"] for a in acked] == list(range(400)), "every write was acknowledged, in order"
    after = [a for a in acked if a["t"] > killed_at]
    assert after, "writes resumed after the kill"
    # Every acknowledged write is on the survivor, exactly once.
    rows = topology.sql(2, "SELECT employee_number FROM org_employee WHERE employee_number LIKE 'K%'").split()
    assert sorted(rows) == [f"K{i:06d}" for i in range(400)]
    assigned = "SELECT COUNT(*) FROM org_assignment a JOIN org_employee e ON a.employee_id = e.id"
    assert topology.sql(2, assigned + " WHERE e.employee_number LIKE 'K%'") == "400"
    assert topology.via("WRITER") == "2"
    status = topology.manage("cluster_status", "--json")
    assert status.returncode != 0, "one node down is unhealthy"
    assert json.loads(status.stdout)["healthy"] is False


def test_killed_node_rejoins_catches_up_and_stays_a_reader(topology):
    topology.run("start", "1")
    assert topology.sql(1, "SELECT @@read_only") == "1"
    topology.wait_for(topology.caught_up, 30, "node 1 caught up with node 2")
    assert {topology.via("WRITER") for _ in range(5)} == {"2"}, "no fail-back to the node that came back"
    tables = "org_department, org_employee, org_project, org_role, org_assignment, org_historicalassignment"
    checksums = [topology.sql(n, f"CHECKSUM TABLE {tables}") for n in (1, 2)]
    assert checksums[0] == checksums[1]
    for node in (1, 2):
        status = topology.slave_status(node)
        assert (status["Last_SQL_Errno"], status["Last_IO_Errno"]) == ("0", "0"), status
    topology.wait_for(lambda: {topology.via("READER") for _ in range(12)} == {"1", "2"}, 10, "both nodes read again")


def test_replication_from_a_peer_that_was_behind_resumes_by_itself(topology):
    """What a crashed writer leaves when its recovery dropped a tail the other node had received: the writer asks
    the rejoined node for what follows a transaction that node does not have yet, and its IO thread stops with
    error 1236, for good unless someone starts it again. Here node 1 (the reader) stops taking node 2's writes
    while node 2 writes and asks node 1 for what follows its own latest; once node 1 has it, the health agent
    starts node 2's IO thread again and both nodes hold the same rows."""
    # Node 1 holds some of node 2's writes already (a peer that never had any of them is not behind).
    topology.sql(2, "INSERT INTO org_department (code, name, active) VALUES ('AHEAD', 'Ahead', 1)")
    topology.wait_for(
        lambda: topology.sql(1, "SELECT COUNT(*) FROM org_department WHERE code = 'AHEAD'") == "1", 10, ""
    )
    topology.sql(1, "STOP SLAVE")
    topology.sql(2, "INSERT INTO org_department (code, name, active) VALUES ('BEHIND', 'Behind', 1)")
    topology.sql(2, "STOP SLAVE; SET GLOBAL gtid_slave_pos = @@gtid_binlog_pos; START SLAVE")
    stopped = topology.wait_for(
        lambda: (s := topology.slave_status(2))["Slave_IO_Running"] == "No" and s, 10, "node 2's IO thread stopped"
    )
    assert stopped["Last_IO_Errno"] == "1236", stopped
    topology.sql(1, "START SLAVE")
    topology.wait_for(topology.caught_up, 30, "node 2 replicating from node 1 again, both caught up")
    assert topology.slave_status(2)["Last_IO_Errno"] == "0"
    assert topology.sql(1, "SELECT name FROM org_department WHERE code = 'BEHIND'") == "Behind"
    tables = "org_department, org_employee, org_assignment"
    assert topology.sql(1, f"CHECKSUM TABLE {tables}") == topology.sql(2, f"CHECKSUM TABLE {tables}")


def test_a_writer_alone_keeps_what_it_acknowledged_and_a_node_started_while_its_peer_is_down_never_takes_over(
    topology,
):
    """The reader dies and the writer goes on alone; then the writer crashes too. The reader, started while the
    writer is down, lacks the writes acknowledged meanwhile: it must neither take writes nor serve reads. The writer,
    started again, keeps every write it acknowledged (crash recovery as a replica discards only a tail never
    acknowledged), and an operator makes it the writer once both have caught up (docs/operations.md, 6.4)."""
    writer = int(topology.via("WRITER"))
    reader = 3 - writer
    topology.run("kill", str(reader))
    for i in range(5):
        topology.sql(writer, f"INSERT INTO org_department (code, name, active) VALUES ('ALONE{i}', 'Alone', 1)")
    alone = "SELECT COUNT(*) FROM org_department WHERE code LIKE 'ALONE%'"
    topology.run("kill", str(writer))

    topology.run("start", str(reader))
    time.sleep(3)  # agent checks every 300 ms; a promotion would come within a second
    assert topology.sql(reader, "SELECT @@read_only") == "1", "a node started while its peer is down took writes"
    assert topology.via("WRITER").startswith("error"), "the writer endpoint answered from the stale node"
    assert topology.via("READER").startswith("error"), "the reader endpoint answered from the stale node"
    assert topology.sql(reader, alone) == "0"

    topology.run("start", str(writer))
    assert topology.sql(writer, alone) == "5", "the writer lost writes it had acknowledged while alone"
    topology.wait_for(topology.caught_up, 30, "both nodes caught up")
    time.sleep(2)
    assert {topology.sql(n, "SELECT @@read_only") for n in (1, 2)} == {"1"}, "no writer until an operator picks one"

    topology.sql(writer, "SET GLOBAL rpl_semi_sync_master_enabled = ON, GLOBAL read_only = OFF")
    topology.wait_for(lambda: topology.via("WRITER") == str(writer), 10, "the operator's writer takes writes")
    assert topology.sql(reader, alone) == "5"
    tables = "org_department, org_employee, org_assignment"
    assert topology.sql(1, f"CHECKSUM TABLE {tables}") == topology.sql(2, f"CHECKSUM TABLE {tables}")
    topology.wait_for(lambda: {topology.via("READER") for _ in range(12)} == {"1", "2"}, 15, "both nodes read again")
