"""Packaging and deployment files, checked without a Docker engine: the Dockerfile's rules, docker-compose.yml
against the HAProxy and MariaDB configs and .env.example, `haproxy -c`, the Procfile, the systemd unit and the
example environment files. tests/test_entrypoint.py runs the scripts these files start; tests/test_deploy_cluster.py
runs the compose topology's processes without containers."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.deploy_files import (
    ROOT,
    compose,
    compose_variables,
    dockerfile_violations,
    env_file,
    interpolate,
    mariadb_options,
    read_dockerfile,
    service_env,
)
from tests.topology import missing_tool

APP_IMAGE_SERVICES = {"cluster-init", "agent1", "agent2", "init", "app1", "app2"}
EXAMPLE = env_file(ROOT / ".env.example")
# .env.example with its placeholders filled, as an operator's .env would be.
FILLED = {key: ("x" * 24 if value.startswith("<") else value) for key, value in EXAMPLE.items()}


def _port(address: str) -> int:
    host, _sep, port = address.rpartition(":")
    assert host == "127.0.0.1", f"{address} is not on 127.0.0.1"
    return int(port)


# --- Dockerfile --------------------------------------------------------------------------------


def test_dockerfile_keeps_the_rules():
    assert dockerfile_violations((ROOT / "Dockerfile").read_text()) == []


def test_the_rules_catch_what_they_are_for():
    bad = """
        FROM python:3.11-slim AS build
        FROM python:latest
        ENV DJANGO_SECRET_KEY=abc SECRET_KEY_FILE=/run/secrets/key
        ARG DB_PASSWORD
        ADD . /app
        RUN apt-get update && apt-get install -y libmariadb3
        RUN pip install -r requirements.txt && python manage.py migrate
        CMD gunicorn projman.wsgi
        ENTRYPOINT ["sh", "-c", "python manage.py migrate && gunicorn"]
        USER root
    """
    found = [violation.split()[0] for violation in dockerfile_violations(bad)]
    assert found == [
        "DL3006/DL3007",  # 3.11-slim: a moving tag
        "DL3006/DL3007",  # latest
        "secret-in-env",  # DJANGO_SECRET_KEY, not SECRET_KEY_FILE
        "secret-in-env",  # ARG DB_PASSWORD
        "DL3020",
        "DL3015",
        "DL3009",
        "DL3042",
        "migrate-at-build",
        "DL3025",
        "migrate-on-start",
        "DL3002",
        "healthcheck",
    ]


def test_image_builds_mysqlclient_in_a_builder_and_runs_slim():
    steps = read_dockerfile()
    stages = [s for s in steps if s.keyword == "FROM"]
    assert len(stages) == 2
    builder, runtime = ([s for s in steps if s.stage == n] for n in (0, 1))
    builder_runs = " ".join(s.args for s in builder if s.keyword == "RUN")
    runtime_runs = " ".join(s.args for s in runtime if s.keyword == "RUN")
    assert "libmariadb-dev" in builder_runs and "requirements/mysql.txt" in builder_runs
    assert "libmariadb-dev" not in runtime_runs and "build-essential" not in runtime_runs
    assert any(s.keyword == "COPY" and s.args.startswith("--from=builder /opt/venv") for s in runtime)
    # Both stages on the same base, so the compiled driver matches the runtime's libraries.
    assert stages[0].args.split()[0] == stages[1].args.split()[0]
    # Static files at build time, after the code is copied and before the switch to the app user.
    keywords = [(s.keyword, s.args) for s in runtime]
    collect = next(i for i, (k, a) in enumerate(keywords) if k == "RUN" and "collectstatic" in a)
    copy_code = next(i for i, (k, a) in enumerate(keywords) if k == "COPY" and a == ". .")
    user = next(i for i, (k, _a) in enumerate(keywords) if k == "USER")
    assert copy_code < collect < user


def test_image_starts_and_checks_itself_with_the_entrypoint():
    runtime = {s.keyword: s.args for s in read_dockerfile() if s.stage == 1}
    assert runtime["ENTRYPOINT"] == '["python", "/app/ops/entrypoint"]'
    assert runtime["CMD"] == '["serve"]'
    assert runtime["HEALTHCHECK"].endswith('CMD ["python", "/app/ops/entrypoint", "healthcheck"]')
    assert (ROOT / "ops" / "entrypoint").stat().st_mode & 0o111


def test_every_file_the_dockerfile_copies_exists():
    for step in read_dockerfile():
        if step.keyword == "COPY" and not step.args.startswith("--from"):
            *sources, _target = step.args.split()
            for source in sources:
                assert (ROOT / source).exists(), f"Dockerfile line {step.line}: {source} does not exist"


def _ignored(path: str, patterns: list[str]) -> bool:
    first = path.split("/")[0]
    return any(Path(path).match(p) or Path(first).match(p) for p in patterns)


def test_dockerignore_keeps_secrets_and_local_state_out_but_not_the_app():
    patterns = [p for p in (ROOT / ".dockerignore").read_text().splitlines() if p and not p.startswith("#")]
    for private in (".env", ".env.local", ".venv", "db.sqlite3", ".git", "staticfiles", "test-artifacts"):
        assert _ignored(private, patterns), f"{private} would be sent to the image build"
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    needed = [f for f in tracked if f.split("/")[0] in ("projman", "org", "locale", "ops", "requirements")]
    needed += ["manage.py"]
    assert needed and not [f for f in needed if _ignored(f, patterns)]


# --- docker-compose.yml --------------------------------------------------------------------------


def test_compose_has_the_original_topology():
    services = compose()["services"]
    assert set(services) == {"db1", "db2", "haproxy"} | APP_IMAGE_SERVICES
    for name in APP_IMAGE_SERVICES:
        assert services[name]["build"] == "." and services[name]["image"] == "projman:local", name
    for name, service in services.items():
        # Everything on the host's network, listening on 127.0.0.1: nothing published on other addresses.
        assert service["network_mode"] == "host", name
        assert "ports" not in service, name


def test_compose_images_are_pinned_to_the_versions_the_tests_run():
    services = compose()["services"]
    images = {name: services[name]["image"] for name in ("db1", "db2", "haproxy")}
    assert images["db1"] == images["db2"]
    for image in images.values():
        assert re.fullmatch(r"[a-z]+:\d+\.\d+\.\d+", image), f"{image} is not an exact version"
    mariadbd = shutil.which("mariadbd") or "/usr/sbin/mariadbd"
    haproxy = shutil.which("haproxy") or "/usr/sbin/haproxy"
    if not (Path(mariadbd).exists() and Path(haproxy).exists()):
        missing_tool("mariadbd and haproxy are not installed (Debian: mariadb-server, haproxy)")
    local_mariadb = re.search(
        r"Ver (\d+\.\d+)\.", subprocess.run([mariadbd, "--version"], capture_output=True, text=True).stdout
    )
    local_haproxy = re.search(
        r"version (\d+\.\d+)\.", subprocess.run([haproxy, "-v"], capture_output=True, text=True).stdout
    )
    assert images["db1"].split(":")[1].startswith(local_mariadb.group(1) + ".")
    assert images["haproxy"].split(":")[1].startswith(local_haproxy.group(1) + ".")


def test_compose_wires_nodes_agents_haproxy_and_apps_to_the_same_ports():
    services = compose()["services"]
    haproxy = service_env("haproxy", FILLED)
    for n in (1, 2):
        db = services[f"db{n}"]
        port = int(interpolate(db["command"][0], FILLED).removeprefix("--port="))
        assert interpolate(db["command"][1], FILLED) == "--bind-address=127.0.0.1"
        assert _port(haproxy[f"PROJMAN_NODE{n}_ADDR"]) == port
        assert _port(service_env("cluster-init", FILLED)[f"PROJMAN_DB{n}_ADDR"]) == port
        agent = service_env(f"agent{n}", FILLED)
        assert _port(agent[f"PROJMAN_DB{n}_ADDR"]) == port
        assert haproxy[f"PROJMAN_NODE{n}_AGENT_HOST"] == "127.0.0.1"
        assert int(haproxy[f"PROJMAN_NODE{n}_AGENT_PORT"]) == _port(agent[f"PROJMAN_AGENT{n}_ADDR"])
    writer, reader = _port(haproxy["PROJMAN_WRITER_BIND"]), _port(haproxy["PROJMAN_READER_BIND"])
    _port(haproxy["PROJMAN_STATS_BIND"])
    binds = set()
    for name in ("init", "app1", "app2"):
        env = service_env(name, FILLED)
        assert env["DATABASE_URL"].endswith(f"@127.0.0.1:{writer}/projman"), name
        assert env["DATABASE_REPLICA_URL"].endswith(f"@127.0.0.1:{reader}/projman"), name
        if name != "init":
            binds.add(_port(env["GUNICORN_BIND"]))
    assert len(binds) == 2
    every_port = [int(v) for k, v in FILLED.items() if k.endswith("_PORT")]
    assert len(every_port) == len(set(every_port)), "two services on one port"


def test_compose_mounts_the_ops_configs_the_tests_run():
    services = compose()["services"]
    for n in (1, 2):
        source, target, mode = services[f"db{n}"]["volumes"][0].split(":")
        assert (ROOT / source).resolve() == ROOT / "ops" / "mariadb" / f"node{n}.cnf"
        assert target.startswith("/etc/mysql/conf.d/") and target.endswith(".cnf") and mode == "ro"
    source, target, mode = services["haproxy"]["volumes"][0].split(":")
    assert (ROOT / source).resolve() == ROOT / "ops" / "haproxy" / "haproxy.cfg"
    assert target == "/usr/local/etc/haproxy/haproxy.cfg" and mode == "ro"  # the official image's default


def test_haproxy_gets_exactly_the_variables_its_config_uses():
    config = (ROOT / "ops" / "haproxy" / "haproxy.cfg").read_text().splitlines()
    used = set(re.findall(r"\$\{(\w+)\}", "\n".join(line for line in config if not line.lstrip().startswith("#"))))
    assert used == set(service_env("haproxy", FILLED))


def test_migrations_run_only_in_the_one_off_init():
    services = compose()["services"]
    for name in ("init", "cluster-init"):
        assert services[name]["restart"] == "no"
        assert services[name]["healthcheck"] == {"disable": True}
    assert services["init"]["command"] == ["init"]
    for name in ("app1", "app2"):
        assert services[name]["command"] == ["serve"]
        assert services[name]["depends_on"] == {"init": {"condition": "service_completed_successfully"}}
    for n in (1, 2):
        assert services[f"agent{n}"]["depends_on"]["cluster-init"]["condition"] == "service_completed_successfully"
    assert {"db1", "db2"} == set(services["cluster-init"]["depends_on"])


def test_compose_secrets_come_only_from_the_untracked_env_file():
    variables = compose_variables()
    assert set(variables) == set(EXAMPLE), "docker-compose.yml and .env.example must name the same variables"
    secrets = {name for name in variables if re.search(r"PASSWORD|SECRET", name)}
    assert secrets >= {"MARIADB_ROOT_PASSWORD", "PROJMAN_DB_PASSWORD", "PROJMAN_REPL_PASSWORD", "SECRET_KEY"}
    for name in secrets:
        assert variables[name][0] == ":?", f"{name} must be required (${{{name}:?...}}), never defaulted"
        assert EXAMPLE[name] in ("<generate>", "<choose>"), f".env.example holds a value for {name}"
    ignored = subprocess.run(["git", "check-ignore", "-q", ".env"], cwd=ROOT)
    assert ignored.returncode == 0, ".env is not ignored by git"
    with pytest.raises(KeyError, match="SECRET_KEY"):
        service_env("app1", {k: v for k, v in FILLED.items() if k != "SECRET_KEY"})


# --- HAProxy and MariaDB -------------------------------------------------------------------------


def _haproxy_check(env: dict[str, str]) -> subprocess.CompletedProcess:
    binary = shutil.which("haproxy") or "/usr/sbin/haproxy"
    if not Path(binary).exists():
        missing_tool("haproxy is not installed (Debian: haproxy)")
    config = ROOT / "ops" / "haproxy" / "haproxy.cfg"
    return subprocess.run([binary, "-c", "-f", str(config)], env=env, capture_output=True, text=True, timeout=30)


def test_haproxy_accepts_its_config_with_the_compose_environment(tmp_path):
    env = {**service_env("haproxy", FILLED), "PROJMAN_HAPROXY_SOCKET": str(tmp_path / "admin.sock")}
    done = _haproxy_check(env)
    assert done.returncode == 0, done.stderr
    env["PROJMAN_WRITER_BIND"] = "127.0.0.1:not-a-port"
    assert _haproxy_check(env).returncode != 0


def test_the_two_node_configs_differ_only_in_their_identity():
    one, two = (mariadb_options(ROOT / "ops" / "mariadb" / f"node{n}.cnf") for n in (1, 2))
    identity = {"server_id", "gtid_domain_id", "auto_increment_offset"}
    assert set(one) == set(two)
    assert {key for key in one if one[key] != two[key]} == identity
    assert (one["server_id"], two["server_id"]) == ("1", "2")
    assert (one["gtid_domain_id"], two["gtid_domain_id"]) == ("1", "2")
    assert one["auto_increment_increment"] == "2" and {one["auto_increment_offset"], two["auto_increment_offset"]} == {
        "1",
        "2",
    }
    assert one["read_only"] == "ON" and one["rpl_semi_sync_master_enabled"] == "OFF"


# --- Procfile, systemd, example environments --------------------------------------------------------


def test_procfile_serves_with_the_entrypoint_and_migrates_on_release():
    lines = dict(line.split(": ", 1) for line in (ROOT / "Procfile").read_text().splitlines() if line)
    assert set(lines) == {"web", "release"}
    assert lines["web"].startswith("python ops/entrypoint serve --bind ") and lines["web"].endswith(":$PORT")
    assert lines["release"] == "python ops/entrypoint init"
    assert (ROOT / "requirements.txt").read_text().count("-r requirements/") == 2


def _unit() -> dict[str, str]:
    pairs = (line.partition("=") for line in (ROOT / "ops" / "systemd" / "projman.service").read_text().splitlines())
    return {key: value for key, sep, value in pairs if sep and not key.startswith("#")}


def test_systemd_unit_runs_the_entrypoint_as_the_app_user():
    unit = _unit()
    assert unit["ExecStart"] == "/srv/projman/app/.venv/bin/python /srv/projman/app/ops/entrypoint serve"
    assert unit["User"] == "projman" and unit["EnvironmentFile"] == "/etc/projman/projman.env"
    assert "Environment" not in unit  # everything, secrets included, from the root-only environment file
    runbook = (ROOT / "docs" / "operations.md").read_text()
    assert "ops/systemd/projman.service" in runbook and "/etc/projman/projman.env" in runbook


def test_systemd_accepts_the_unit(tmp_path):
    if not shutil.which("systemd-analyze"):
        missing_tool("systemd-analyze is not installed (Debian: systemd)")
    text = (ROOT / "ops" / "systemd" / "projman.service").read_text()
    # The app's paths do not exist here; systemd checks that ExecStart is executable, so point it at one that is.
    unit = tmp_path / "projman.service"
    unit.write_text(text.replace("/srv/projman/app/.venv/bin/python /srv/projman/app/ops/entrypoint", "/bin/true"))
    done = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and not done.stderr.strip(), done.stderr
    unit.write_text(unit.read_text().replace("Restart=always", "Restart=sometimes"))
    done = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60)
    assert "restart specifier" in done.stderr


@pytest.mark.parametrize("example", [".env.example", "ops/systemd/projman.env.example"])
def test_example_environments_name_only_variables_something_reads_and_hold_no_secret(example):
    readers = "".join(
        (ROOT / path).read_text()
        for path in ("projman/settings.py", "ops/gunicorn.conf.py", "ops/entrypoint", "docker-compose.yml")
    )
    for name, value in env_file(ROOT / example).items():
        read_as = name.removesuffix("_FILE")  # settings.py and ops/entrypoint read NAME_FILE for every secret NAME
        assert re.search(rf"\b{read_as}\b", readers), f"{example}: nothing reads {name}"
        if re.search(r"PASSWORD|SECRET|DATABASE_URL|DATABASE_REPLICA_URL", name) and not name.endswith("_FILE"):
            assert value in ("", "<generate>", "<choose>") or "<APP_DB_PASSWORD>" in value, f"{example}: {name}"
        assert not re.search(r"\b(?!127\.0\.0\.1)\d+\.\d+\.\d+\.\d+\b", value), f"{example}: {name} holds an address"
