"""ops/entrypoint and ops/gunicorn.conf.py, run as the image, compose, the Procfile and systemd run them."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys

import pytest

from tests.topology import ROOT, serving

ENTRYPOINT = [sys.executable, str(ROOT / "ops" / "entrypoint")]


def _clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without the app's variables: each test says what it sets."""
    prefixes = ("DATABASE", "DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "GUNICORN", "PROJMAN_", "WEB_CONCURRENCY")
    return {**{k: v for k, v in os.environ.items() if not k.startswith(prefixes)}, **extra}


def _run(*args: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([*ENTRYPOINT, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


def _gunicorn_config(**env: str) -> dict[str, str]:
    done = subprocess.run(
        [sys.executable, "-m", "gunicorn", "--config", str(ROOT / "ops" / "gunicorn.conf.py"), "--print-config"],
        cwd=ROOT,
        env=_clean_env(DEBUG="true", **env),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    pairs = (line.partition("=") for line in done.stdout.splitlines())
    return {key.strip(): value.strip() for key, sep, value in pairs if sep}


def test_gunicorn_takes_workers_threads_and_bind_from_the_environment():
    config = _gunicorn_config(GUNICORN_WORKERS="3", GUNICORN_THREADS="4", GUNICORN_BIND="127.0.0.1:8123")
    assert config["workers"] == "3"
    assert config["threads"] == "4"
    assert config["bind"] == "['127.0.0.1:8123']"
    assert config["wsgi_app"] == "projman.wsgi:application"
    assert config["preload_app"] == "True"
    defaults = _gunicorn_config()
    assert defaults["bind"] == "['127.0.0.1:8000']" and defaults["threads"] == "1"
    assert int(defaults["workers"]) == 2 * os.cpu_count() + 1
    assert _gunicorn_config(WEB_CONCURRENCY="5")["workers"] == "5"  # what Heroku-style platforms set


def test_a_bad_gunicorn_variable_stops_serve_with_one_line():
    for name, value, message in [
        ("GUNICORN_WORKERS", "many", "GUNICORN_WORKERS='many' must be a whole number from 1 to 64"),
        ("GUNICORN_THREADS", "0", "GUNICORN_THREADS='0' must be a whole number from 1 to 64"),
        ("GUNICORN_BIND", "8000", "GUNICORN_BIND='8000' is not HOST:PORT"),
    ]:
        done = _run("serve", env=_clean_env(DEBUG="true", **{name: value}), timeout=60)
        assert done.returncode != 0
        assert done.stderr.startswith(f"projman: configuration error: {message}"), done.stderr
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr


def test_serve_refuses_to_start_without_a_secret_key():
    env = _clean_env(ALLOWED_HOSTS="projman.example", GUNICORN_BIND="127.0.0.1:1", GUNICORN_WORKERS="1")
    done = _run("serve", env=env, timeout=60)
    assert done.returncode != 0
    assert "projman: configuration error: SECRET_KEY is not set." in done.stderr
    assert "Traceback" not in done.stderr


def test_healthcheck_passes_against_a_serving_app_and_fails_without_one(tmp_path):
    database = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    env = _clean_env(SECRET_KEY="k" * 50, ALLOWED_HOSTS="projman.example", DATABASE_URL=database)
    # The app also answers 127.0.0.1, which serving() polls; the check asks with the first ALLOWED_HOSTS name.
    with serving({**env, "ALLOWED_HOSTS": "projman.example,127.0.0.1", "GUNICORN_WORKERS": "2"}) as url:
        bind = url.removeprefix("http://")
        done = _run("healthcheck", env={**env, "GUNICORN_BIND": bind}, timeout=30)
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout.split("healthcheck: ", 1)[1]) == {"status": "ok", "writer": "ok"}
        # A host name the app does not serve is a 400, and the check says so.
        done = _run("healthcheck", env={**env, "GUNICORN_BIND": bind, "ALLOWED_HOSTS": "other.example"}, timeout=30)
        assert done.returncode == 1 and "answered 400" in done.stderr
    done = _run("healthcheck", env={**env, "GUNICORN_BIND": bind}, timeout=30)
    assert done.returncode == 1
    assert f"http://{bind}/healthz" in done.stderr


def _user_check(env: dict[str, str], username: str, password: str) -> str:
    snippet = (
        "from django.contrib.auth import get_user_model;"
        f"u = get_user_model().objects.get(username={username!r});"
        f"print(u.is_superuser, u.email, u.check_password({password!r}))"
    )
    done = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", snippet], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


def test_init_migrates_and_creates_the_first_administrator_once(tmp_path):
    password_file = tmp_path / "admin-password"
    password_file.write_text("correct horse battery staple\n")
    env = _clean_env(
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        PROJMAN_ADMIN_USERNAME="boss",
        PROJMAN_ADMIN_EMAIL="boss@example.com",
        PROJMAN_ADMIN_PASSWORD_FILE=str(password_file),
    )
    done = _run("init", env=env)
    assert done.returncode == 0, done.stderr
    assert "Applying org.0001" in done.stdout and "administrator 'boss' created." in done.stdout
    assert _user_check(env, "boss", "correct horse battery staple") == "True boss@example.com True"
    # Again, with another password: nothing to migrate, the administrator left as it was.
    done = _run(
        "init", env={**env, "PROJMAN_ADMIN_PASSWORD_FILE": "", "PROJMAN_ADMIN_PASSWORD": secrets.token_urlsafe(16)}
    )
    assert done.returncode == 0, done.stderr
    assert "No migrations to apply" in done.stdout and "administrator 'boss' exists; left unchanged." in done.stdout
    assert _user_check(env, "boss", "correct horse battery staple") == "True boss@example.com True"


def test_init_refuses_a_weak_or_missing_administrator_password(tmp_path):
    env = _clean_env(DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}", PROJMAN_ADMIN_USERNAME="boss")
    done = _run("init", env=env)
    assert done.returncode == 1
    assert (
        done.stderr.strip()
        == "projman: PROJMAN_ADMIN_PASSWORD is not set; set PROJMAN_ADMIN_PASSWORD or PROJMAN_ADMIN_PASSWORD_FILE."
    )
    done = _run("init", env={**env, "PROJMAN_ADMIN_PASSWORD": "12345678"})
    assert done.returncode == 1
    assert "projman: PROJMAN_ADMIN_PASSWORD is refused: This password is too common." in done.stderr
    done = _run("init", env={**env, "PROJMAN_ADMIN_PASSWORD_FILE": str(tmp_path / "missing")})
    assert done.returncode == 1
    assert "PROJMAN_ADMIN_PASSWORD_FILE=" in done.stderr and "No such file or directory" in done.stderr


@pytest.mark.mariadb  # needs the MySQL driver, which the MariaDB pass installs
def test_init_gives_up_on_a_database_that_does_not_answer(tmp_path):
    env = _clean_env(DATABASE_URL="mysql://projman:x@127.0.0.1:1/projman", PROJMAN_WAIT_SECONDS="2")
    done = _run("init", env=env, timeout=60)
    assert done.returncode == 1
    assert "projman: the database (DATABASE_URL) did not answer within 2 s" in done.stderr


def test_cluster_init_and_agent_name_what_is_missing():
    secrets = dict.fromkeys(("PROJMAN_REPL_PASSWORD", "PROJMAN_DB_PASSWORD", "PROJMAN_AGENT_PASSWORD"), "s3cret")
    done = _run("cluster-init", env=_clean_env())
    assert done.stderr.strip().startswith("projman: PROJMAN_REPL_PASSWORD is not set")
    done = _run("cluster-init", env=_clean_env(**secrets, PROJMAN_DB1_ADDR="db1"))
    assert done.returncode == 1
    assert done.stderr.strip() == "projman: PROJMAN_DB1_ADDR='db1' is not HOST:PORT (e.g. 127.0.0.1:3316)."
    done = _run("agent", "1", env=_clean_env(PROJMAN_DB1_ADDR="127.0.0.1:3316", PROJMAN_AGENT1_ADDR="127.0.0.1:0"))
    assert done.returncode == 1
    assert "PROJMAN_AGENT1_ADDR='127.0.0.1:0' is not HOST:PORT" in done.stderr
