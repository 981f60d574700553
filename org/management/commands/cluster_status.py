"""Is the MariaDB pair behind HAProxy healthy? One look at every node, and at which one HAProxy writes to.

Each node is asked directly (not through HAProxy, which would pick one for us) with the user and password of
DATABASE_URL; the writer endpoint itself is asked for its @@server_id to tell which node takes the writes. The
command exits non-zero, with one line saying why, whenever something needs a person, so cron or a monitor can
run it as it is.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

try:
    import MySQLdb
    from MySQLdb.cursors import DictCursor
except ImportError:  # the SQLite set-up has no driver; handle() says what to install
    MySQLdb = None

CONNECT_TIMEOUT = 3  # seconds; also the read and write timeout, so a hung node cannot hang the command

Address = tuple[str, int]


@dataclass
class Node:
    address: str
    reachable: bool = False
    server_id: int | None = None
    read_only: bool | None = None
    gtid_current_pos: str | None = None
    # None when the node has no replication configured at all.
    slave_io_running: str | None = None
    slave_sql_running: str | None = None
    seconds_behind_master: int | None = None
    last_io_error: str = ""
    last_sql_error: str = ""
    semi_sync_master_status: str | None = None
    semi_sync_slave_status: str | None = None
    semi_sync_master_clients: int | None = None  # replicas acknowledging this node's writes
    writer: bool = False
    errors: list[str] = field(default_factory=list)


def parse_nodes(text: str, source: str) -> list[Address]:
    """``HOST:PORT,HOST:PORT`` from --nodes; errors name where the list came from."""
    nodes = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        host, _sep, port = item.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise CommandError(f"{source}: {item!r} is not HOST:PORT (e.g. 127.0.0.1:3307).")
        nodes.append((host, int(port)))
    return nodes


def _connect(address: Address):
    """A direct MySQLdb connection as the DATABASE_URL user: no Django alias, no router, no HAProxy choice."""
    database = settings.DATABASES["default"]
    host, port = address
    return MySQLdb.connect(
        host=host,
        port=port,
        user=database["USER"],
        password=database["PASSWORD"],
        charset="utf8mb4",
        connect_timeout=CONNECT_TIMEOUT,
        read_timeout=CONNECT_TIMEOUT,
        write_timeout=CONNECT_TIMEOUT,
    )


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split())


def inspect_node(address: Address) -> Node:
    node = Node(address=f"{address[0]}:{address[1]}")
    try:
        connection = _connect(address)
    except MySQLdb.Error as exc:
        node.errors.append(f"unreachable: {_one_line(exc)}")
        return node
    node.reachable = True
    try:
        with connection.cursor(DictCursor) as cursor:
            cursor.execute("SELECT @@server_id AS server_id, @@read_only AS read_only, @@gtid_current_pos AS gtid")
            row = cursor.fetchone()
            node.server_id, node.gtid_current_pos = row["server_id"], row["gtid"]
            node.read_only = bool(row["read_only"])
            cursor.execute("SHOW GLOBAL STATUS LIKE 'Rpl_semi_sync_%'")
            semi_sync = {r["Variable_name"].lower(): r["Value"] for r in cursor.fetchall()}
            node.semi_sync_master_status = semi_sync.get("rpl_semi_sync_master_status")
            node.semi_sync_slave_status = semi_sync.get("rpl_semi_sync_slave_status")
            if (clients := semi_sync.get("rpl_semi_sync_master_clients")) is not None:
                node.semi_sync_master_clients = int(clients)
            # ALL: a named replication connection (CHANGE MASTER 'name' TO) counts as much as the default one.
            cursor.execute("SHOW ALL SLAVES STATUS")
            _read_replication(node, cursor.fetchall())
    except MySQLdb.Error as exc:
        node.errors.append(f"cannot read status: {_one_line(exc)}")
    finally:
        connection.close()
    return node


def _read_replication(node: Node, channels: list[dict[str, Any]]) -> None:
    """One channel in a master-master pair; with several, the worst of each figure."""
    if not channels:
        return
    node.slave_io_running = _worst([channel["Slave_IO_Running"] for channel in channels])
    node.slave_sql_running = _worst([channel["Slave_SQL_Running"] for channel in channels])
    lags = [channel["Seconds_Behind_Master"] for channel in channels]
    node.seconds_behind_master = None if None in lags else max(lags)
    node.last_io_error = "; ".join(c["Last_IO_Error"] for c in channels if c["Last_IO_Error"])
    node.last_sql_error = "; ".join(c["Last_SQL_Error"] for c in channels if c["Last_SQL_Error"])


def _worst(states: list[str]) -> str:
    return next((state for state in states if state != "Yes"), "Yes")


def writer_server_id() -> tuple[int | None, str]:
    """@@server_id of the node HAProxy's writer endpoint (DATABASE_URL) leads to, or why that is not known."""
    database = settings.DATABASES["default"]
    try:
        connection = _connect((database["HOST"] or "localhost", int(database["PORT"] or 3306)))
    except MySQLdb.Error as exc:
        return None, _one_line(exc)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT @@server_id")
            return cursor.fetchone()[0], ""
    except MySQLdb.Error as exc:
        return None, _one_line(exc)
    finally:
        connection.close()


def problems(nodes: list[Node], writer_id: int | None, writer_error: str, max_lag: int) -> list[str]:
    """What needs a person, one phrase each; empty when the cluster is healthy."""
    found = []
    for node in nodes:
        found += [f"{node.address} {error}" for error in node.errors]
        if not node.reachable or node.errors:
            continue
        for thread, state in (("IO", node.slave_io_running), ("SQL", node.slave_sql_running)):
            if state is None:
                found.append(f"{node.address} has no replication configured")
                break
            if state != "Yes":
                found.append(f"{node.address} replication {thread} thread is {state}")
        if node.seconds_behind_master is not None and node.seconds_behind_master > max_lag:
            found.append(f"{node.address} is {node.seconds_behind_master} s behind (limit {max_lag} s)")
    writable = [node.address for node in nodes if node.reachable and node.read_only is False]
    if len(writable) != 1:
        found.append(f"{len(writable)} nodes are writable (read_only=OFF) instead of exactly one: {writable}")
    if len(nodes) > 1 and len(writable) == 1 and all(node.reachable for node in nodes):
        writer = next(node for node in nodes if node.read_only is False)
        if writer.semi_sync_master_status != "ON":
            found.append(
                f"{writer.address} writes without semi-synchronous replication: an acknowledged write "
                "could be lost with it"
            )
        elif writer.semi_sync_master_clients == 0:  # status stays ON with no replica to wait for (wait_no_slave OFF)
            found.append(
                f"{writer.address} has no replica acknowledging its writes (Rpl_semi_sync_master_clients=0; is "
                "rpl_semi_sync_slave_enabled ON on the other node?): an acknowledged write could be lost with it"
            )
    if writer_id is None:
        found.append(f"the writer endpoint (DATABASE_URL) does not answer: {writer_error}")
    elif not any(node.writer for node in nodes):
        found.append(f"the writer endpoint leads to server_id {writer_id}, which is none of the nodes listed")
    return found


class Command(BaseCommand):
    help = (
        "Report each MariaDB node's replication state and which node HAProxy writes to; exit 1 if anything is "
        "unhealthy. Nodes come from --nodes or DATABASE_NODES. The DATABASE_URL user needs the SLAVE MONITOR "
        "privilege (REPLICATION CLIENT on MariaDB before 10.5.9): GRANT SLAVE MONITOR ON *.* TO ..."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", dest="as_json", help="Print one JSON document.")
        parser.add_argument("--nodes", help="HOST:PORT,HOST:PORT (default: DATABASE_NODES).")

    def handle(self, *args, as_json: bool, nodes: str | None, **options) -> None:
        addresses = parse_nodes(nodes, "--nodes") if nodes else settings.DATABASE_NODES
        if not addresses:
            raise CommandError(
                "DATABASE_NODES is not set: list the database nodes as HOST:PORT,HOST:PORT (or pass --nodes)."
            )
        if not settings.DATABASES["default"]["ENGINE"].endswith("mysql"):
            raise CommandError("cluster_status needs DATABASE_URL to be the mysql:// writer endpoint.")
        if MySQLdb is None:
            raise CommandError("cluster_status needs mysqlclient: pip install -r requirements/mysql.txt")

        report = [inspect_node(address) for address in addresses]
        writer_id, writer_error = writer_server_id()
        for node in report:
            node.writer = writer_id is not None and node.server_id == writer_id
        max_lag = settings.DATABASE_MAX_LAG
        found = problems(report, writer_id, writer_error, max_lag)

        if as_json:
            self.stdout.write(self._json(report, writer_id, found, max_lag))
        else:
            self.stdout.write(self._table(report))
            self.stdout.write(self.style.SUCCESS("healthy") if not found else self.style.ERROR("unhealthy"))
        if found:
            raise CommandError("unhealthy: " + "; ".join(found))

    def _json(self, report: list[Node], writer_id: int | None, found: list[str], max_lag: int) -> str:
        writer = next((node.address for node in report if node.writer), None)
        document = {
            "healthy": not found,
            "problems": found,
            "writer": writer,
            "writer_server_id": writer_id,
            "max_lag": max_lag,
            "nodes": [asdict(node) for node in report],
        }
        return json.dumps(document, indent=2)

    def _table(self, report: list[Node]) -> str:
        header = ("node", "up", "id", "ro", "IO", "SQL", "lag", "semi m/s", "writer", "gtid_current_pos")
        rows = [header]
        for node in report:
            rows.append(
                (
                    node.address,
                    "yes" if node.reachable else "NO",
                    _cell(node.server_id),
                    _cell(None if node.read_only is None else ("ON" if node.read_only else "OFF")),
                    _cell(node.slave_io_running),
                    _cell(node.slave_sql_running),
                    _cell(node.seconds_behind_master),
                    f"{_cell(node.semi_sync_master_status)}/{_cell(node.semi_sync_slave_status)}",
                    "<- writer" if node.writer else "",
                    _cell(node.gtid_current_pos),
                )
            )
        widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
        lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows]
        for node in report:
            lines += [f"{node.address}: {error}" for error in node.errors]
            lines += [f"{node.address}: last IO error: {node.last_io_error}"] if node.last_io_error else []
            lines += [f"{node.address}: last SQL error: {node.last_sql_error}"] if node.last_sql_error else []
        return "\n".join(lines)


def _cell(value: object) -> str:
    return "-" if value is None or value == "" else str(value)
