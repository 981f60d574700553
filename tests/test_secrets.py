"""No tracked file holds a secret or a real address: passwords, keys and tokens come from the environment (or
``*_FILE``), and every address in code, configs and docs is 127.0.0.1 (ops/ included).

The scan reads ``git ls-files``; each rule is also run on a sample it must catch, so the scan itself can fail.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

IPV4 = re.compile(r"(?<![\d.])(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(?![\d.])")
PRIVATE_KEY = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")
CLOUD_KEY = re.compile(r"\b(AKIA[0-9A-Z]{16}|ghp_[0-9A-Za-z]{36}|xox[abp]-[0-9A-Za-z-]{10,})\b")
# NAME = "literal", NAME: 'literal', "NAME": "literal" for names that hold credentials.
ASSIGNED = re.compile(
    r"""(?ix)\b\w*(password|passwd|secret|token|api_?key|private_?key)\w*['"]?\s*[:=]\s*(['"])(?P<value>[^'"\n]*)\2"""
)
# scheme://user:password@host
URL_CREDENTIAL = re.compile(r"\b[a-z][a-z0-9+.-]*://[^\s:/@'\"]+:(?P<value>[^\s@/'\"]+)@")
# A value that only stands for one: a template, a variable, an elision, a placeholder; or no value at all but the
# text between two strings (`"NAME=" in out and "…"`), which starts or ends with a space.
PLACEHOLDER = re.compile(r"[<{$%…*\[\]]|^\s|\s$|\.\.\.|^(x+|change-?me|secret|password|example\S*)$", re.IGNORECASE)

# Literal values allowed on purpose, each with its reason.
ALLOWED = {
    ("tests/test_entrypoint.py", "12345678"): "a password the validators must refuse",
}
# 0.0.0.0 is not an address to reach; Heroku-style routers reach the app only on all interfaces at $PORT.
ALLOWED_BINDS = {"Procfile"}


# RFC 5737's ranges for documentation (tests use them as a client's address): never a real host.
DOCUMENTATION = re.compile(r"^(192\.0\.2|198\.51\.100|203\.0\.113)\.")
# This file's samples are there to be caught.
NOT_SCANNED = {"tests/test_secrets.py"}


def findings(path: str, text: str) -> list[str]:
    """What in ``text`` (the file ``path``) looks like a secret or an address other than 127.0.0.1."""
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        for match in IPV4.finditer(line):
            address = match.group(0)
            if address == "127.0.0.1" or (address == "0.0.0.0" and path in ALLOWED_BINDS):
                continue
            if DOCUMENTATION.match(address):
                continue
            if all(int(part) <= 255 for part in match.groups()):
                found.append(f"{path}:{number}: the address {address}")
        if PRIVATE_KEY.search(line):
            found.append(f"{path}:{number}: a private key")
        if CLOUD_KEY.search(line):
            found.append(f"{path}:{number}: an access key")
        for pattern in (ASSIGNED, URL_CREDENTIAL):
            for match in pattern.finditer(line):
                value = match.group("value")
                if len(value) >= 4 and not PLACEHOLDER.search(value) and (path, value) not in ALLOWED:
                    found.append(f"{path}:{number}: a credential {value!r}")
    return found


def tracked_text_files() -> list[tuple[str, str]]:
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    files = []
    for name in listed.decode().split("\0"):
        path = ROOT / name
        if not name or not path.is_file() or name.endswith((".mo", ".png", ".xlsx")):
            continue
        try:
            files.append((name, path.read_text(encoding="utf-8")))
        except UnicodeDecodeError:
            files.append((name, path.read_text(encoding="latin-1")))  # a test's Latin-1 sample file
    return files


def test_no_tracked_file_holds_a_secret_or_a_real_address():
    files = tracked_text_files()
    assert len(files) > 100, "git ls-files listed the repository"
    problems = [problem for name, text in files if name not in NOT_SCANNED for problem in findings(name, text)]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("server db1 10.0.0.11:3306 check", "the address 10.0.0.11"),
        ("bind 192.168.1.20", "the address 192.168.1.20"),
        ("connect to 127.0.0.2", "the address 127.0.0.2"),
        ("REMOTE_ADDR=203.0.114.7", "the address 203.0.114.7"),
        ("gunicorn --bind 0.0.0.0:8000", "the address 0.0.0.0"),
        ("-----BEGIN RSA PRIVATE KEY-----", "a private key"),
        ("aws_access_key_id = AKIAIOSFODNN7EXAMPLE", "an access key"),
        ('DB_PASSWORD = "hunter22"', "a credential 'hunter22'"),
        ("'SECRET_KEY': 'django-insecure-abc123'", "a credential 'django-insecure-abc123'"),
        ('"api_key": "k3y-from-a-vendor"', "a credential 'k3y-from-a-vendor'"),
        ("DATABASE_URL=mysql://projman:s3cretpass@127.0.0.1/projman", "a credential 's3cretpass'"),
    ],
)
def test_the_scan_catches(text, expected):
    assert [problem.split(": ", 1)[1] for problem in findings("sample.txt", text)] == [expected]


@pytest.mark.parametrize(
    "text",
    [
        "DATABASE_URL=mysql://projman:<APP_DB_PASSWORD>@127.0.0.1:3306/projman",
        "MARIADB_ROOT_PASSWORD: ${MARIADB_ROOT_PASSWORD:?set it in .env}",
        "MASTER_PASSWORD='{repl_password}'",
        'SECRET_KEY = "x" * 50',
        "MariaDB 10.11.9, Django 5.2.19",
        "REMOTE_ADDR=203.0.113.7 (RFC 5737, for documentation)",
        "web: gunicorn --bind 127.0.0.1:8000",
    ],
)
def test_the_scan_leaves_placeholders_and_versions(text):
    assert findings("sample.txt", text) == []
