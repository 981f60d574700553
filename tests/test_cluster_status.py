"""manage.py cluster_status against the one local MariaDB, which does not replicate: so it must say unhealthy.

The two-node cluster, where it must say healthy and follow a failover, is tests/test_cluster.py.
"""

from __future__ import annotations

import json
import socket

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import override_settings

pytestmark = pytest.mark.mariadb


def local_node() -> str:
    return f"{connection.settings_dict['HOST']}:{connection.settings_dict['PORT']}"


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def run(*args: str, capsys) -> tuple[str, str]:
    """Run the command, which must fail; its output and the one-line reason."""
    with pytest.raises(CommandError) as failure:
        call_command("cluster_status", *args)
    return capsys.readouterr().out, str(failure.value)


@pytest.mark.django_db
def test_json_reports_a_reachable_node_that_does_not_replicate(capsys):
    with connection.cursor() as cursor:
        cursor.execute("SELECT @@server_id")
        [server_id] = cursor.fetchone()

    out, reason = run("--json", "--nodes", local_node(), capsys=capsys)

    report = json.loads(out)
    [node] = report["nodes"]
    assert node["address"] == local_node()
    assert node["reachable"] is True
    assert node["server_id"] == server_id
    assert node["read_only"] is False
    assert (node["slave_io_running"], node["slave_sql_running"]) == (None, None)
    assert node["writer"] is True  # DATABASE_URL leads to this very server
    assert report["writer"] == local_node()
    assert report["healthy"] is False
    assert report["problems"] == [f"{local_node()} has no replication configured"]
    assert reason == f"unhealthy: {local_node()} has no replication configured"


def test_a_closed_port_is_reported_unreachable(capsys):
    closed = f"127.0.0.1:{closed_port()}"

    out, reason = run("--nodes", f"{local_node()},{closed}", capsys=capsys)

    row = next(line for line in out.splitlines() if line.startswith(closed))
    assert row.split()[1] == "NO"
    assert f"{closed}: unreachable" in out
    assert out.splitlines()[-1] == "unhealthy"
    assert f"{closed} unreachable" in reason
    assert "\n" not in reason


def test_nodes_come_from_database_nodes(capsys):
    with override_settings(DATABASE_NODES=[("127.0.0.1", closed_port())]):
        out, _reason = run("--json", capsys=capsys)
    [node] = json.loads(out)["nodes"]
    assert node["reachable"] is False


def test_missing_database_nodes_is_named(capsys):
    with override_settings(DATABASE_NODES=[]):
        _out, reason = run(capsys=capsys)
    assert reason.startswith("DATABASE_NODES is not set")


def test_a_malformed_node_is_named(capsys):
    _out, reason = run("--nodes", "127.0.0.1", capsys=capsys)
    assert reason == "--nodes: '127.0.0.1' is not HOST:PORT (e.g. 127.0.0.1:3307)."
