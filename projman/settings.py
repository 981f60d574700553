"""ProjMan settings: one module, configured only by environment variables.

Every variable is read once, here, through django-environ. A value that cannot
be parsed raises ``ImproperlyConfigured`` at start-up; with ``DEBUG`` off there
is no insecure fallback for ``SECRET_KEY``.
"""

from __future__ import annotations

import base64
import hashlib
import warnings
from datetime import timedelta
from pathlib import Path

import environ
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()


def _bool(name: str, default: bool) -> bool:
    """A strict boolean: anything but a recognised spelling is an error."""
    raw = env.str(name, default=None)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off", ""}:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean; use true or false.")


def _int(name: str, default: int, *, low: int) -> int:
    """A whole number of at least ``low``; anything else is an error naming the variable."""
    raw = env.str(name, default="").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a whole number.") from None
    if value < low:
        raise ImproperlyConfigured(f"{name}={raw!r} is too small; it must be at least {low}.")
    return value


def _nodes(name: str) -> list[tuple[str, int]]:
    """``HOST:PORT,HOST:PORT``: the database nodes that ``manage.py cluster_status`` inspects one by one."""
    nodes = []
    for item in env.list(name, default=[]):
        host, _sep, port = item.strip().rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ImproperlyConfigured(f"{name}: {item!r} is not HOST:PORT (e.g. 127.0.0.1:3307).")
        nodes.append((host, int(port)))
    return nodes


def _csp_hash(source: str) -> str:
    """A Content-Security-Policy source that allows exactly this inline text (a style attribute's value)."""
    return "'sha256-" + base64.b64encode(hashlib.sha256(source.encode()).digest()).decode() + "'"


def _secret(name: str) -> str | None:
    """Read NAME, or the file named by NAME_FILE (Docker and systemd secrets). Read as it is: django-environ would
    take a value starting with "$" for the name of another variable (one random key in about fifty does)."""
    path = env.str(f"{name}_FILE", default=None)
    if path:
        try:
            value = Path(path).read_text().strip()
        except OSError as exc:
            raise ImproperlyConfigured(f"{name}_FILE={path!r} cannot be read: {exc}") from exc
        if not value:
            raise ImproperlyConfigured(f"{name}_FILE={path!r} is empty; it must hold {name}.")
        return value
    return env.ENVIRON.get(name) or None


DEBUG = _bool("DEBUG", default=False)

SECRET_KEY = _secret("SECRET_KEY")
if not SECRET_KEY and DEBUG:
    # Development only: a fresh random key per process, never a fixed one.
    from django.core.management.utils import get_random_secret_key

    SECRET_KEY = get_random_secret_key()
# Without DEBUG a missing SECRET_KEY or ALLOWED_HOSTS stops the app from serving
# (projman.startup, called by wsgi.py and `manage.py runserver`), while tools that
# only read the code, such as `makemigrations --check`, still run.

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"] if DEBUG else [])

INSTALLED_APPS = [
    "projman.apps.ProjManAdminConfig",  # django.contrib.admin with the site of projman.admin_site
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "simple_history",
    "axes",
    "django_tables2",
    "django_filters",
    "org",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "projman.middleware.DatabaseUnavailableMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    "org.middleware.OneDataVersionPerRead",
    # Last, as django-axes asks: it turns a locked-out login into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "projman.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "projman" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "org.context_processors.access",
            ],
        },
    },
]

WSGI_APPLICATION = "projman.wsgi.application"


# Connections are kept between requests for DATABASE_CONN_MAX_AGE seconds, counted from when they were opened, so
# Django closes each one before it can have been idle as long as HAProxy's `timeout client`/`timeout server`
# (PROJMAN_IDLE_TIMEOUT in ops/haproxy, 600 s) or MariaDB's wait_timeout (28800 s): it must stay below both.
# The health check (a ping at the first use in each request) reconnects if a connection was dropped all the same,
# e.g. on a writer switch.
DATABASE_CONN_MAX_AGE = _int("DATABASE_CONN_MAX_AGE", 60, low=0)
if DATABASE_CONN_MAX_AGE >= 600:
    raise ImproperlyConfigured(
        f"DATABASE_CONN_MAX_AGE={DATABASE_CONN_MAX_AGE} must stay below 600 s, the idle timeout after which HAProxy "
        "closes a connection (ops/haproxy)."
    )

# How long a browser's reads stay on the writer after it wrote (read-your-writes). It must exceed the replication
# lag at which HAProxy stops sending reads to a replica, which DATABASE_MAX_LAG states (ops/health-agent --max-lag,
# 5 s); cluster_status calls a larger lag unhealthy.
DATABASE_MAX_LAG = _int("DATABASE_MAX_LAG", 5, low=0)
DATABASE_PIN_SECONDS = _int("DATABASE_PIN_SECONDS", 15, low=1)
if DATABASE_PIN_SECONDS <= DATABASE_MAX_LAG:
    raise ImproperlyConfigured(
        f"DATABASE_PIN_SECONDS={DATABASE_PIN_SECONDS} must exceed DATABASE_MAX_LAG={DATABASE_MAX_LAG}: a shorter "
        "pin would send a user's reads to a replica that may not have their write yet."
    )

# How long a read (GET) whose connection broke is tried again on new connections before the user gets the 503 page
# (projman.middleware): long enough to ride out a writer switch (about a second), short enough not to hold a
# worker for long while the database is really gone. 0 turns the retry off.
DATABASE_READ_RETRY_SECONDS = _int("DATABASE_READ_RETRY_SECONDS", 3, low=0)

# The nodes behind HAProxy, for `manage.py cluster_status` only; the app itself goes through the proxy.
DATABASE_NODES = _nodes("DATABASE_NODES")


def _database(url: str, name: str) -> dict:
    """The settings for one alias from the URL in variable ``name``; writer and reader get the same treatment."""
    try:
        with warnings.catch_warnings():  # django-environ warns about an unknown engine; we say it below, once
            warnings.simplefilter("ignore")
            config = env.db_url_config(url)
    except Exception as exc:  # django-environ raises several types for a bad URL
        raise ImproperlyConfigured(f"{name} is not a valid database URL: {exc}") from exc
    engine = config.get("ENGINE", "")
    # A dead or dropped connection is noticed at the first query of a request, not shown to the user.
    config.update({"CONN_MAX_AGE": DATABASE_CONN_MAX_AGE, "CONN_HEALTH_CHECKS": True})
    if engine.endswith("sqlite3"):
        return config
    if not engine.endswith("mysql"):
        raise ImproperlyConfigured(
            f"{name} uses {engine or 'an unknown engine'}; ProjMan supports sqlite:// and mysql://."
        )
    config.setdefault("OPTIONS", {}).update(
        {
            "charset": "utf8mb4",
            # Strict mode: a value that does not fit is an error, never silently cut.
            "init_command": "SET sql_mode='STRICT_TRANS_TABLES,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION'",
            "isolation_level": "read committed",
            # A dead endpoint fails in seconds (a 503, a red /healthz), not after the TCP default of minutes.
            "connect_timeout": 3,
        }
    )
    config["TEST"] = {"CHARSET": "utf8mb4", "COLLATION": "utf8mb4_unicode_ci"}
    return config


# An empty DATABASE_URL counts as unset: the SQLite file in the checkout. Both URLs hold a password, so either may
# come from a file (DATABASE_URL_FILE, DATABASE_REPLICA_URL_FILE), as SECRET_KEY may.
DATABASES = {"default": _database(_secret("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}", "DATABASE_URL")}

# DATABASE_URL is the writer endpoint; DATABASE_REPLICA_URL, when set, the reader endpoint. Without it there is one
# database and no router at all.
_replica_url = _secret("DATABASE_REPLICA_URL")
if _replica_url:
    _replica = _database(_replica_url, "DATABASE_REPLICA_URL")
    if _replica["ENGINE"] != DATABASES["default"]["ENGINE"]:
        raise ImproperlyConfigured("DATABASE_REPLICA_URL must use the same engine as DATABASE_URL.")
    # Tests run on one test database: the replica alias reads the writer's.
    _replica["TEST"] = {**_replica.get("TEST", {}), "MIRROR": "default"}
    DATABASES["replica"] = _replica
    REPLICA_DATABASES = ["replica"]
    DATABASE_ROUTERS = ["projman.routers.ReplicaRouter"]
    # Before the session and the user are read, so those reads follow the pin too.
    MIDDLEWARE.insert(
        MIDDLEWARE.index("django.contrib.sessions.middleware.SessionMiddleware"),
        "multidb.middleware.PinningRouterMiddleware",
    )

# Company-wide figures (the dashboard's counts) are kept here until the data changes: see org.selectors.remembered.
# The default is each process's own memory; CACHE_URL (e.g. redis://127.0.0.1:6379/1) shares one between servers.
_cache_url = env.str("CACHE_URL", default="") or "locmemcache://projman"
try:
    CACHES = {"default": env.cache_url_config(_cache_url)}
except Exception as exc:  # django-environ raises several types for a bad URL
    raise ImproperlyConfigured(f"CACHE_URL is not a valid cache URL: {exc}") from exc

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("es", _("Spanish"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "org:dashboard"
LOGOUT_REDIRECT_URL = "login"

# --- HTTPS, cookies, sessions, headers: with DEBUG off `manage.py check --deploy` reports nothing --------------------
# SESSION_COOKIE_SECURE says the site is reached over HTTPS (a TLS proxy in front of gunicorn). Turned off, for a
# trial over plain HTTP, it takes the redirect and HSTS with it unless those are set on their own.
SESSION_COOKIE_SECURE = _bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_SSL_REDIRECT = _bool("SECURE_SSL_REDIRECT", default=SESSION_COOKIE_SECURE)
# /healthz answers a monitor on the server itself over plain HTTP (the image's HEALTHCHECK, a load balancer).
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_HSTS_SECONDS = _int("SECURE_HSTS_SECONDS", 365 * 24 * 3600 if SESSION_COOKIE_SECURE else 0, low=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = _bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = _bool("SECURE_HSTS_PRELOAD", default=True)
# Behind a proxy that terminates TLS, Django sees plain HTTP; SECURE_PROXY_SSL_HEADER=true trusts the proxy's
# X-Forwarded-Proto (set it only when that proxy overwrites the header a client sends).
if _bool("SECURE_PROXY_SSL_HEADER", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True  # no script of ours reads it: forms carry the token
# A session ends after SESSION_HOURS (default a working day) and when the browser closes.
SESSION_COOKIE_AGE = _int("SESSION_HOURS", 10, low=1) * 3600
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"

# Content-Security-Policy (django-csp): our pages and the admin load scripts, styles and images from this site
# only, run no inline script and cannot be framed. tests/test_browser.py fails on any CSP violation in Chromium.
# One inline style attribute is allowed by its hash: django-simple-history's history list writes
# style="border-top: 0" on its paginator.
_ALLOWED_STYLE_ATTRIBUTES = ["border-top: 0"]
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF, "'unsafe-hashes'", *(_csp_hash(style) for style in _ALLOWED_STYLE_ATTRIBUTES)],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

# Login throttling (django-axes): after LOGIN_FAILURE_LIMIT failed logins for one username from one address, that
# pair is refused for LOGIN_LOCKOUT_MINUTES, whatever the password; the lockout page says so. The pair, not the
# username alone, so nobody can lock a colleague out from elsewhere; the same answer for an unknown username, so the
# lockout tells nothing about which accounts exist. Behind a proxy every client has the proxy's address: the limit
# then holds per username.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
    # Today's department managers get the "Department managers" group's permissions (org.access).
    "org.access.ManagerPermissionBackend",
]
AXES_FAILURE_LIMIT = _int("LOGIN_FAILURE_LIMIT", 5, low=1)
AXES_COOLOFF_TIME = timedelta(minutes=_int("LOGIN_LOCKOUT_MINUTES", 15, low=1))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "projman.views.locked_out"

# django-multidb-router's read-your-writes cookie (used only with DATABASE_REPLICA_URL); no script needs to read it.
MULTIDB_PINNING_SECONDS = DATABASE_PIN_SECONDS
MULTIDB_PINNING_COOKIE_SECURE = SESSION_COOKIE_SECURE
MULTIDB_PINNING_COOKIE_HTTPONLY = True

# Reverting from the history page would write around org.services and its rules.
SIMPLE_HISTORY_REVERT_DISABLED = True
