"""Setting up the MariaDB pair: shared by ops/cluster and ops/entrypoint's `cluster-init` (docker-compose).

Standard library only. Both callers reach the nodes through the ``mariadb``
client; they differ only in how they connect (ops/cluster: root over each
node's unix socket; compose: root over TCP with the password from the
environment), so the SQL that makes a fresh pair replicate master-master, and
the choice of writer after a restart, live here once.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Sequence

DATABASE = "projman"
APP_USER = "projman"
REPL_USER = "repl"
AGENT_USER = "projman_agent"
HOST = "127.0.0.1"
MAKE_WRITER = "SET GLOBAL rpl_semi_sync_master_enabled = ON, GLOBAL read_only = OFF"

# sql(node, statement) -> output; raises on failure when check is true.
Sql = Callable[..., str]


class SqlError(RuntimeError):
    pass


def run_client(client: Sequence[str], statement: str, *, check: bool = True, names: bool = False) -> str:
    """Run ``statement`` with the mariadb client command ``client`` (binary and connection options)."""
    command = [*client, "--batch", *([] if names else ["--skip-column-names"]), "--connect-timeout=2", "-e", statement]
    done = subprocess.run(command, capture_output=True, text=True, timeout=30)
    if check and done.returncode != 0:
        raise SqlError(f"{statement.strip().splitlines()[0][:80]}…: {done.stderr.strip()}")
    return done.stdout.strip() if done.returncode == 0 else ""


def node_statements(
    *, peer_port: int, repl_password: str, app_password: str, agent_password: str | None, test_databases: bool
) -> str:
    """Users (not replicated: the same statements run on both nodes) and replication from the peer."""
    grants = [f"GRANT ALL PRIVILEGES ON `{DATABASE}%`.* TO '{APP_USER}'@'{HOST}';"]
    if test_databases:
        grants.append(f"GRANT ALL PRIVILEGES ON `test\\_{DATABASE}%`.* TO '{APP_USER}'@'{HOST}';")
    agent = ""
    if agent_password:
        # docs/operations.md 2.4: what the health agent needs to read the node and promote it.
        agent = (
            f"CREATE USER '{AGENT_USER}'@'{HOST}' IDENTIFIED BY '{agent_password}';\n"
            "GRANT SLAVE MONITOR, REPLICATION CLIENT, PROCESS, CONNECTION ADMIN, READ_ONLY ADMIN,"
            f" REPLICATION MASTER ADMIN, REPLICATION SLAVE ADMIN ON *.* TO '{AGENT_USER}'@'{HOST}';\n"
        )
    return f"""
        SET SESSION sql_log_bin = 0;
        CREATE USER '{REPL_USER}'@'{HOST}' IDENTIFIED BY '{repl_password}';
        GRANT REPLICATION SLAVE, SLAVE MONITOR ON *.* TO '{REPL_USER}'@'{HOST}';
        CREATE USER '{APP_USER}'@'{HOST}' IDENTIFIED BY '{app_password}';
        {" ".join(grants)}
        GRANT SLAVE MONITOR, REPLICATION CLIENT ON *.* TO '{APP_USER}'@'{HOST}';
        {agent}
        CHANGE MASTER TO MASTER_HOST='{HOST}', MASTER_PORT={peer_port},
            MASTER_USER='{REPL_USER}', MASTER_PASSWORD='{repl_password}',
            MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1;
        START SLAVE;
        """


def configure_pair(
    sql: Sql,
    ports: dict[int, int],
    *,
    repl_password: str,
    app_password: str,
    agent_password: str | None = None,
    test_databases: bool = False,
) -> None:
    """A fresh pair: users on both nodes, replication both ways, node 1 the writer, the database created.

    Both binary logs are emptied first, before either node replicates: whatever an installer wrote there (the
    official image's own users) would otherwise replicate to the peer and clash with the peer's own."""
    for n in (1, 2):
        sql(n, "RESET MASTER")
    for n in (1, 2):
        statements = node_statements(
            peer_port=ports[2 if n == 1 else 1],
            repl_password=repl_password,
            app_password=app_password,
            agent_password=agent_password,
            test_databases=test_databases,
        )
        sql(n, statements)
    sql(1, MAKE_WRITER)
    sql(1, f"CREATE DATABASE IF NOT EXISTS `{DATABASE}` CHARACTER SET utf8mb4")


def is_configured(sql: Sql, n: int) -> bool:
    """Node ``n`` already replicates from its peer (a pair set up before)."""
    return bool(sql(n, "SHOW SLAVE STATUS", names=True))


def gtid_seqnos(position: str) -> dict[int, int]:
    """``"1-1-40,2-2-7"`` → ``{1: 40, 2: 7}``."""
    pairs = (gtid.strip().split("-") for gtid in position.split(",") if gtid.strip())
    return {int(domain): int(seqno) for domain, _server, seqno in pairs}


def ensure_writer(sql: Sql) -> int | None:
    """After a restart of both nodes, both boot read-only: make the one that has applied the most the writer
    (node 1 when they are equal). Returns the node made writer, or None if one already was."""
    if any(sql(n, "SELECT @@read_only", check=False) == "0" for n in (1, 2)):
        return None
    positions = {n: gtid_seqnos(sql(n, "SELECT @@gtid_current_pos")) for n in (1, 2)}
    ahead = all(positions[2].get(d, -1) >= seq for d, seq in positions[1].items()) and positions[2] != positions[1]
    writer = 2 if ahead else 1
    sql(writer, MAKE_WRITER)
    return writer
