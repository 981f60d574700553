"""Views of the project itself, outside the org app: the health check a load balancer or monitor polls, and the
page a locked-out login gets."""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
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


def locked_out(request: HttpRequest, original_response: HttpResponse | None, credentials: dict | None) -> HttpResponse:
    """django-axes' answer to a login from a username and address that failed too often (AXES_LOCKOUT_CALLABLE):
    429 and a page that says what happened and for how long. It reads the same for every username, existing or not.
    """
    context = {
        "failure_limit": settings.AXES_FAILURE_LIMIT,
        "minutes": int(settings.AXES_COOLOFF_TIME.total_seconds() // 60),
    }
    return render(request, "registration/locked_out.html", context, status=429)
