"""gunicorn's configuration for ProjMan: the image, docker-compose, the Procfile, the systemd unit and the tests'
gunicorn all start with ``gunicorn --config ops/gunicorn.conf.py`` (through ``ops/entrypoint serve``).

Environment (a bad value stops gunicorn with one line naming the variable):

    GUNICORN_BIND      where to listen, HOST:PORT (default 127.0.0.1:8000)
    GUNICORN_WORKERS   worker processes (default: WEB_CONCURRENCY if the platform sets it, else 2 * CPUs + 1)
    GUNICORN_THREADS   threads per worker (default 1: sync workers; more than 1 makes them gthread workers)
    GUNICORN_TIMEOUT   seconds a request may take before its worker is restarted (default 30)
"""

from __future__ import annotations

import os
import sys


def _whole(name: str, default: int, *, low: int, high: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        print(
            f"projman: configuration error: {name}={raw!r} must be a whole number from {low} to {high}.",
            file=sys.stderr,
        )
        raise SystemExit(1)
    return int(raw)


def _bind(name: str, default: str) -> str:
    raw = os.environ.get(name, "").strip() or default
    host, sep, port = raw.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        print(f"projman: configuration error: {name}={raw!r} is not HOST:PORT (e.g. 127.0.0.1:8000).", file=sys.stderr)
        raise SystemExit(1)
    return raw


wsgi_app = "projman.wsgi:application"
bind = [_bind("GUNICORN_BIND", "127.0.0.1:8000")]
workers = _whole(
    "GUNICORN_WORKERS", _whole("WEB_CONCURRENCY", 2 * (os.cpu_count() or 1) + 1, low=1, high=64), low=1, high=64
)
threads = _whole("GUNICORN_THREADS", 1, low=1, high=64)
timeout = _whole("GUNICORN_TIMEOUT", 30, low=5, high=600)
graceful_timeout = 20
# Load the app once in the master: a configuration error (projman/wsgi.py's one line) stops gunicorn at once
# instead of every worker failing to boot in turn. Django opens no database connection at import.
preload_app = True
# Keep-alive for the load balancer or HAProxy in front; each request still checks its database connection.
keepalive = 5
# Restart a worker now and then, so a slow leak cannot grow for ever.
max_requests = 2000
max_requests_jitter = 200
# The heartbeat file on a tmpfs where there is one (in a container /tmp may be an overlay on disk).
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None
accesslog = "-"
errorlog = "-"
# The client's address as the proxy in front says, only when that proxy is on this machine.
forwarded_allow_ips = "127.0.0.1"
# gunicorn 27's control socket defaults to one path per user ($HOME/.gunicorn/gunicorn.ctl), which two
# servers on one machine (two app servers in compose, the tests' servers) would fight over; nothing uses it.
control_socket_disable = True
