"""Settings validation: the app refuses to start on bad or missing configuration.

Each case imports the settings in a fresh interpreter with a controlled
environment, as a server would at start-up.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


SET_BY_TESTS = {"DEBUG", "SECRET_KEY", "SECRET_KEY_FILE", "ALLOWED_HOSTS", "DATABASE_URL", "DATABASE_URL_FILE"}
SET_BY_TESTS |= {"DATABASE_REPLICA_URL", "DATABASE_REPLICA_URL_FILE"}


def start(env: dict[str, str], probe: str = "print('ok')") -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in SET_BY_TESTS}
    code = f"import projman.settings as s; {probe}"
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "projman.settings", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_production_refuses_to_start_without_secret_key():
    result = start({"DEBUG": "false", "ALLOWED_HOSTS": "projman.example.com"}, "import projman.wsgi")
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


def test_production_starts_with_its_settings():
    result = start(
        {"DEBUG": "false", "SECRET_KEY": "x" * 50, "ALLOWED_HOSTS": "projman.example.com"},
        "print(s.DEBUG, s.ALLOWED_HOSTS, s.SESSION_COOKIE_SECURE)",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False ['projman.example.com'] True"


def test_production_needs_allowed_hosts():
    result = start({"DEBUG": "false", "SECRET_KEY": "x" * 50}, "import projman.wsgi")
    assert result.returncode != 0
    assert "ALLOWED_HOSTS is empty" in result.stderr


def test_secret_key_from_file(tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("from-a-file-" + "y" * 40 + "\n")
    result = start(
        {"DEBUG": "false", "SECRET_KEY_FILE": str(secret), "ALLOWED_HOSTS": "a.example"},
        "print(s.SECRET_KEY)",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "from-a-file-" + "y" * 40


def test_a_secret_key_starting_with_a_dollar_is_taken_as_it_is():
    """django-environ reads "$NAME" as the value of NAME: a random key starting with "$" was lost, and the tests'
    app processes, given the test process's key, signed sessions with another."""
    key = "$" + "z" * 49
    result = start({"DEBUG": "false", "SECRET_KEY": key, "ALLOWED_HOSTS": "a.example"}, "print(s.SECRET_KEY)")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == key


def test_unreadable_secret_file_is_named(tmp_path):
    result = start({"DEBUG": "false", "SECRET_KEY_FILE": str(tmp_path / "missing"), "ALLOWED_HOSTS": "a.example"})
    assert result.returncode != 0
    assert "SECRET_KEY_FILE" in result.stderr


def test_debug_gets_a_random_key_per_process():
    first = start({"DEBUG": "true"}, "print(s.SECRET_KEY)")
    second = start({"DEBUG": "true"}, "print(s.SECRET_KEY)")
    assert first.returncode == second.returncode == 0
    assert first.stdout != second.stdout


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DEBUG": "maybe"}, "DEBUG='maybe' is not a boolean"),
        ({"DEBUG": "2"}, "DEBUG='2' is not a boolean"),
        ({"DATABASE_CONN_MAX_AGE": "a minute"}, "DATABASE_CONN_MAX_AGE='a minute' is not a whole number"),
        ({"DATABASE_CONN_MAX_AGE": "-1"}, "DATABASE_CONN_MAX_AGE='-1' is too small"),
        ({"DATABASE_CONN_MAX_AGE": "600"}, "DATABASE_CONN_MAX_AGE=600 must stay below 600 s"),
        ({"DATABASE_READ_RETRY_SECONDS": "a while"}, "DATABASE_READ_RETRY_SECONDS='a while' is not a whole number"),
        ({"DATABASE_READ_RETRY_SECONDS": "-1"}, "DATABASE_READ_RETRY_SECONDS='-1' is too small"),
    ],
)
def test_a_bad_setting_is_named(env, message):
    result = start({"DEBUG": "true", **env})
    assert result.returncode != 0
    assert message in result.stderr


def test_an_empty_secret_file_is_named(tmp_path):
    (tmp_path / "secret").write_text("\n")
    result = start({"DEBUG": "false", "SECRET_KEY_FILE": str(tmp_path / "secret"), "ALLOWED_HOSTS": "a.example"})
    assert result.returncode != 0
    assert f"SECRET_KEY_FILE='{tmp_path / 'secret'}' is empty; it must hold SECRET_KEY." in result.stderr


def test_database_urls_from_files(tmp_path):
    """They hold the database password: like SECRET_KEY, each may come from a file (Docker/systemd secrets)."""
    (tmp_path / "writer").write_text("mysql://app:password@127.0.0.1:3307/projman\n")
    (tmp_path / "reader").write_text("mysql://app:password@127.0.0.1:3308/projman\n")
    result = start(
        {
            "DEBUG": "true",
            "DATABASE_URL_FILE": str(tmp_path / "writer"),
            "DATABASE_REPLICA_URL_FILE": str(tmp_path / "reader"),
        },
        "d = s.DATABASES; print(d['default']['PASSWORD'], d['default']['PORT'], d['replica']['PORT'])",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["password", "3307", "3308"]


def test_default_database_is_sqlite_in_the_checkout():
    result = start({"DEBUG": "true"}, "print(s.DATABASES['default']['ENGINE'], s.DATABASES['default']['NAME'])")
    assert result.stdout.split() == ["django.db.backends.sqlite3", str(ROOT / "db.sqlite3")]


def test_mysql_url_gets_strict_mode_and_read_committed():
    result = start(
        {"DEBUG": "true", "DATABASE_URL": "mysql://app@127.0.0.1:3307/projman"},
        "d = s.DATABASES['default']; print(d['ENGINE'], d['HOST'], d['PORT'], d['OPTIONS']['isolation_level'], "
        "'STRICT_TRANS_TABLES' in d['OPTIONS']['init_command'], d['OPTIONS']['charset'])",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "django.db.backends.mysql",
        "127.0.0.1",
        "3307",
        "read",
        "committed",
        "True",
        "utf8mb4",
    ]


@pytest.mark.parametrize("url", ["postgres://u@127.0.0.1/x", "nonsense"])
def test_unsupported_database_url_is_named(url):
    result = start({"DEBUG": "true", "DATABASE_URL": url})
    assert result.returncode != 0
    assert "DATABASE_URL" in result.stderr


def manage_py(command: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    clean = {
        k: v for k, v in os.environ.items() if not k.startswith(("DATABASE", "DEBUG", "SECRET_KEY", "ALLOWED_HOSTS"))
    }
    return subprocess.run(
        [sys.executable, "manage.py", *command.split()],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("command", "env", "named"),
    [
        ("check", {"DEBUG": "true", "DATABASE_URL": "postgres://u@127.0.0.1/x"}, "DATABASE_URL"),
        ("check", {"DEBUG": "true", "DATABASE_REPLICA_URL": "nonsense"}, "DATABASE_REPLICA_URL"),
        ("runserver", {"DEBUG": "false", "ALLOWED_HOSTS": "a.example"}, "SECRET_KEY"),
        ("runserver", {"DEBUG": "false", "SECRET_KEY": "x" * 50}, "ALLOWED_HOSTS"),
    ],
)
def test_manage_py_says_what_is_wrong_in_one_line(command, env, named):
    result = manage_py(command, env)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("projman: configuration error:") and named in lines[0]


def test_code_only_commands_run_without_production_secrets():
    """CI's `makemigrations --check` reads the code; it needs no SECRET_KEY."""
    result = manage_py("makemigrations --check --dry-run", {})
    assert result.returncode == 0, result.stderr
    assert "No changes detected" in result.stdout
