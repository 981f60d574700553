"""Production hardening: `check --deploy` clean, security headers and cookies, sessions that expire, login
throttling that names no account, Django's password validators.

Production settings are imported in a fresh interpreter with DEBUG off (tests.test_settings.start), as a server
would; the login flows run in-process through the test client, which passes the request to the authentication
backends the way the login views do.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.urls import reverse

from tests.factories import UserFactory

ROOT = Path(__file__).resolve().parent.parent

PRODUCTION = {"DEBUG": "false", "SECRET_KEY": secrets.token_urlsafe(50), "ALLOWED_HOSTS": "projman.example.com"}


def production(command: list[str], **env: str) -> subprocess.CompletedProcess:
    # The browser tests set DJANGO_ALLOW_ASYNC_UNSAFE in this process; a server never has it.
    unset = ("DATABASE", "DEBUG", "SECRET_KEY", "SESSION", "DJANGO_ALLOW_ASYNC_UNSAFE")
    clean = {k: v for k, v in os.environ.items() if not k.startswith(unset)}
    return subprocess.run(
        command,
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "projman.settings", **PRODUCTION, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_reports_nothing_with_production_settings():
    done = production([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "DEBUG"])
    assert done.returncode == 0, done.stdout + done.stderr
    assert "System check identified no issues" in done.stdout


def test_check_deploy_speaks_up_when_https_is_turned_off():
    done = production([sys.executable, "manage.py", "check", "--deploy"], SESSION_COOKIE_SECURE="false")
    for warning in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert warning in done.stderr + done.stdout


# Runs in the app process: GETs through the Django test client, status and headers as JSON on stdout.
PROBE = """
import json, sys
import django
django.setup()
# Static URLs without collectstatic's manifest (a fresh checkout has none); the headers are what is checked.
from django.conf import settings
settings.STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"
from django.test import Client
answers = {}
for name, path, secure in [("https", "/accounts/login/", True), ("http", "/accounts/login/", False),
                           ("health", "/healthz", False)]:
    response = Client().get(path, secure=secure)
    answers[name] = {"status": response.status_code, "headers": dict(response.headers),
                     "cookies": {k: dict(v, value=v.value) for k, v in response.cookies.items()}}
print(json.dumps(answers))
"""


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> dict:
    database = tmp_path_factory.mktemp("hardening") / "db.sqlite3"
    done = production([sys.executable, "-c", PROBE], DATABASE_URL=f"sqlite:///{database}", ALLOWED_HOSTS="testserver")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_pages_carry_the_security_headers(served):
    headers = served["https"]["headers"]
    assert served["https"]["status"] == 200
    assert headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"
    policy = dict(part.strip().split(" ", 1) for part in headers["Content-Security-Policy"].split(";"))
    assert policy["default-src"] == "'self'"
    assert policy["script-src"] == "'self'"
    # 'self', and the one inline style attribute a library writes, by its hash
    assert policy["style-src"] == "'self' 'unsafe-hashes' 'sha256-XMXSevYjgSjXgRafBFDvtjwX+yyWLrxfso9DcNZ9UXM='"
    assert policy["frame-ancestors"] == "'none'"
    assert policy["object-src"] == "'none'"


def test_cookies_are_secure_and_out_of_scripts_reach(served):
    csrf = served["https"]["cookies"]["csrftoken"]
    assert csrf["secure"] is True
    assert csrf["httponly"] is True
    assert csrf["samesite"] == "Lax"


def test_plain_http_is_sent_to_https_except_the_health_check(served):
    assert served["http"]["status"] == 301
    assert served["http"]["headers"]["Location"] == "https://testserver/accounts/login/"
    assert served["health"]["status"] == 200  # a monitor on the server itself polls over plain HTTP


def test_production_sessions_expire():
    done = production(
        [
            sys.executable,
            "-c",
            "import projman.settings as s; print(s.SESSION_COOKIE_AGE, s.SESSION_EXPIRE_AT_BROWSER_CLOSE)",
        ]
    )
    assert done.stdout.split() == ["36000", "True"]
    done = production(
        [sys.executable, "-c", "import projman.settings as s; print(s.SESSION_COOKIE_AGE)"], SESSION_HOURS="0"
    )
    assert "SESSION_HOURS='0' is too small" in done.stderr


# --- Logging in ---------------------------------------------------------------------------------------------

LOGIN = "/accounts/login/"
WRONG = "Please enter a correct username and password"
LOCKED = "After 5 failed logins to this account from your address"


def attempt(client, username: str, password: str, *, address: str = "203.0.113.7", path: str = LOGIN, **headers):
    """A login from ``address`` (RFC 5737 documentation addresses stand for clients elsewhere)."""
    return client.post(path, {"username": username, "password": password}, REMOTE_ADDR=address, **headers)


def shown(response) -> str:
    """The page as a user reads it: no CSRF token, no typed-in username."""
    text = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", response.content.decode())
    return re.sub(r'name="username" value="[^"]*"', "", text)


@pytest.fixture
def member(db):
    password = secrets.token_urlsafe(16)
    return UserFactory(username="ana", password=password), password


def test_a_login_session_ends_with_the_browser_and_after_a_working_day(client, member):
    user, password = member
    response = attempt(client, user.username, password)
    assert response.status_code == 302
    cookie = response.cookies["sessionid"]
    assert cookie["httponly"] is True
    assert cookie["max-age"] == "" and cookie["expires"] == ""  # a browser-session cookie
    assert client.session.get_expiry_age() == 10 * 3600


def test_failed_logins_lock_the_account_for_that_address_with_a_clear_message(client, member):
    user, password = member
    for _ in range(4):
        response = attempt(client, user.username, "wrong")
        assert response.status_code == 200
        assert WRONG in response.content.decode()
    response = attempt(client, user.username, "wrong")  # the fifth failure locks
    assert response.status_code == 429
    assert LOCKED in response.content.decode()
    response = attempt(client, user.username, password)  # the right password, too late
    assert response.status_code == 429
    assert LOCKED in response.content.decode()
    assert "refused for 15 minutes" in response.content.decode()
    assert "_auth_user_id" not in client.session
    assert attempt(client, user.username, password, path=reverse("admin:login")).status_code == 429


def test_a_lockout_holds_for_one_address_only(client, member):
    user, password = member
    for _ in range(6):
        attempt(client, user.username, "wrong")
    assert attempt(client, user.username, password).status_code == 429
    assert attempt(client, user.username, password, address="198.51.100.9").status_code == 302


def test_a_successful_login_starts_the_count_again(client, member):
    user, password = member
    for _ in range(4):
        attempt(client, user.username, "wrong")
    assert attempt(client, user.username, password).status_code == 302
    client.logout()
    for _ in range(4):
        attempt(client, user.username, "wrong")
    assert attempt(client, user.username, password).status_code == 302


def test_logins_tell_nothing_about_which_accounts_exist(client, member):
    user, _password = member
    for _ in range(6):
        known, unknown = attempt(client, user.username, "wrong"), attempt(client, "nobody-here", "wrong")
        assert known.status_code == unknown.status_code
        assert shown(known) == shown(unknown)


def test_django_password_validators_refuse_weak_passwords(db):
    for weak in ["short", "password123", "12345678901"]:
        with pytest.raises(ValidationError):
            validate_password(weak)
    validate_password(secrets.token_urlsafe(16))


def test_the_lockout_page_speaks_spanish(client, member):
    user, _password = member
    for _ in range(5):
        response = attempt(client, user.username, "wrong", HTTP_ACCEPT_LANGUAGE="es")
    assert response.status_code == 429
    assert "se rechazan durante 15 minutos, incluso con la contraseña correcta" in response.content.decode()
