"""ops/cluster driven from Python: for tests/test_cluster.py and bench/ha.py."""

from __future__ import annotations

import contextlib
import getpass
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLUSTER = [sys.executable, str(ROOT / "ops" / "cluster")]


class Topology:
    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.env: dict[str, str] = {}

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        done = subprocess.run([*CLUSTER, "--dir", str(self.dir), *args], capture_output=True, text=True, timeout=180)
        if check and done.returncode != 0:
            raise AssertionError(f"ops/cluster {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
        return done

    def load_env(self) -> None:
        for line in (self.dir / "cluster.env").read_text().splitlines():
            if line.startswith("export "):
                continue
            key, _, value = line.partition("=")
            self.env[key] = value

    def app_env(self) -> dict[str, str]:
        clean = {k: v for k, v in os.environ.items() if not k.startswith("DATABASE")}
        return {**clean, **self.env, "DEBUG": "true", "ALLOWED_HOSTS": "testserver"}

    def app(self, *args: str, timeout: float = 120) -> list[dict]:
        done = subprocess.run(
            [sys.executable, "-m", "tests.cluster_client", *args],
            cwd=ROOT,
            env=self.app_env(),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]

    def manage(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.app_env(),
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def app_background(self, *args: str) -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, "-m", "tests.cluster_client", *args],
            cwd=ROOT,
            env=self.app_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def sql(self, node: int, statement: str, *, names: bool = False) -> str:
        done = subprocess.run(
            [
                shutil.which("mariadb") or "mariadb",
                "--no-defaults",
                f"--socket={self.env[f'NODE{node}_SOCKET']}",
                f"--user={getpass.getuser()}",
                "--batch",
                *([] if names else ["--skip-column-names"]),
                "projman",
                "-e",
                statement,
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    def via(self, endpoint: str, statement: str = "SELECT @@server_id") -> str:
        user, password = self.env["DATABASE_URL"].split("//")[1].split("@")[0].split(":")
        done = subprocess.run(
            [
                shutil.which("mariadb") or "mariadb",
                "--no-defaults",
                "--protocol=TCP",
                "--host=127.0.0.1",
                f"--port={self.env[f'{endpoint}_PORT']}",
                f"--user={user}",
                f"--password={password}",
                "--batch",
                "--skip-column-names",
                "--connect-timeout=2",
                "-e",
                statement,
            ],
            capture_output=True,
            text=True,
            timeout=30,
        )
        return done.stdout.strip() if done.returncode == 0 else f"error: {done.stderr.strip()}"

    def slave_status(self, node: int) -> dict[str, str]:
        out = self.sql(node, "SHOW SLAVE STATUS\\G", names=True)
        pairs = (line.strip().partition(": ") for line in out.splitlines())
        return {key: value for key, sep, value in pairs if sep}

    def wait_for(self, predicate, seconds: float, what: str):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(0.2)
        raise AssertionError(f"not within {seconds} s: {what}\n{self.describe()}")

    def describe(self) -> str:
        """Both nodes' replication state, for a failure message."""
        lines = []
        for n in (1, 2):
            try:
                status = self.slave_status(n)
                position = self.sql(n, "SELECT @@gtid_current_pos, @@read_only")
            except AssertionError as exc:
                lines.append(f"node {n}: unreadable ({exc})")
                continue
            keys = ("Slave_IO_Running", "Slave_SQL_Running", "Seconds_Behind_Master", "Gtid_IO_Pos")
            state = ", ".join(f"{k}={status.get(k)}" for k in keys)
            errors = f"{status.get('Last_IO_Error')} {status.get('Last_SQL_Error')}".strip()
            lines.append(f"node {n}: gtid/read_only={position!r} {state} {errors}")
        return "\n".join(lines)

    def caught_up(self) -> bool:
        """Both nodes have applied the same GTIDs and replicate without error."""
        positions = {self.sql(n, "SELECT @@gtid_current_pos") for n in (1, 2)}
        statuses = [self.slave_status(n) for n in (1, 2)]
        running = all(s.get("Slave_IO_Running") == "Yes" and s.get("Slave_SQL_Running") == "Yes" for s in statuses)
        return len(positions) == 1 and running

    @contextlib.contextmanager
    def serve(self, **overrides: str) -> Iterator[str]:
        """The app under gunicorn with this cluster's environment; yields its URL.

        Django's test client skips the per-request connection checks, so
        behaviour that depends on them needs a real server."""
        with serving({**self.app_env(), "ALLOWED_HOSTS": "127.0.0.1", **overrides}) as url:
            yield url


def require_cluster_tools() -> None:
    """Skip (fail under CI=true) a test that needs ops/cluster when MariaDB's or HAProxy's binaries are missing."""

    names = ("mariadbd", "mariadb-install-db", "haproxy", "mariadb")
    missing = [name for name in names if not (shutil.which(name) or Path("/usr/sbin", name).exists())]
    if missing:
        missing_tool(f"ops/cluster needs {', '.join(missing)} (Debian: mariadb-server, haproxy)")


@contextlib.contextmanager
def serving(env: dict[str, str], seconds: float = 30) -> Iterator[str]:
    """The app under gunicorn on a free 127.0.0.1 port, started as the image and the systemd unit start it
    (``ops/entrypoint serve``: ops/gunicorn.conf.py); one sync worker unless ``env`` says otherwise. Yields its URL."""
    port = free_port()
    with tempfile.TemporaryFile() as errors:  # gunicorn's own log, shown if it does not come up
        server = subprocess.Popen(
            [sys.executable, str(ROOT / "ops" / "entrypoint"), "serve"],
            cwd=ROOT,
            env={"GUNICORN_WORKERS": "1", "GUNICORN_THREADS": "1", **env, "GUNICORN_BIND": f"127.0.0.1:{port}"},
            stdout=subprocess.DEVNULL,
            stderr=errors,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + seconds
            while http_get(url + "/healthz")[0] != 200:
                if time.monotonic() > deadline or server.poll() is not None:
                    errors.seek(0)
                    log = errors.read().decode(errors="replace")[-3000:]
                    raise AssertionError(f"gunicorn did not serve /healthz within {seconds} s:\n{log}")
                time.sleep(0.2)
            yield url
        finally:
            server.terminate()  # gunicorn finishes the requests in hand first, for up to its graceful_timeout (20 s)
            try:
                server.wait(30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(10)


def session_snippet(username: str, *, superuser: bool = False, group: str = "Viewers") -> str:
    """Python for `manage.py shell -c`: print the key of a logged-in session of ``username`` (created if new, in
    ``group``: by default the Viewers, who may read the staff pages)."""
    return (
        "from django.contrib.auth import get_user_model, SESSION_KEY, BACKEND_SESSION_KEY, HASH_SESSION_KEY;"
        "from django.contrib.auth.models import Group;"
        "from django.contrib.sessions.backends.db import SessionStore;"
        f"u, _ = get_user_model().objects.get_or_create(username={username!r},"
        f" defaults={{'is_staff': {superuser}, 'is_superuser': {superuser}}});"
        f"u.groups.add(Group.objects.get(name={group!r}));"
        "s = SessionStore(); s[SESSION_KEY] = str(u.pk);"
        "s[BACKEND_SESSION_KEY] = 'django.contrib.auth.backends.ModelBackend';"
        "s[HASH_SESSION_KEY] = u.get_session_auth_hash(); s.create(); print(s.session_key)"
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def http_get(url: str, headers: dict[str, str] | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()
    except OSError:
        return 0, ""


def missing_tool(message: str) -> None:
    """Skip the test on a developer's machine; fail it under CI=true, where .ci/run installs every tool."""
    import pytest

    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)
