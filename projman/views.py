"""Views of the project itself, outside the org app: the health check a load balancer or monitor polls."""

from __future__ import annotations

import logging

from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

logger = logging.getLogger(__name__)

ENDPOINTS = {"writer": DEFAULT_DB_ALIAS, "reader": "replica"}


def _answers(alias: str) -> bool:
    """``SELECT 1`` on ``alias``; connect_timeout in its OPTIONS bounds how long a dead endpoint can take."""
    try:
        with connections[alias].cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError as exc:
        # The error text names hosts and users: it goes to the log (one line per poll), never into the response.
        logger.warning("Health check: database alias %r did not answer: %s", alias, exc)
        return False
    return True


@never_cache
@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    """200 when every configured endpoint answers, else 503; needs no login and never touches the session."""
    checks = {
        name: "ok" if _answers(alias) else "unavailable" for name, alias in ENDPOINTS.items() if alias in connections
    }
    healthy = all(state == "ok" for state in checks.values())
    return JsonResponse({"status": "ok" if healthy else "unavailable", **checks}, status=200 if healthy else 503)
