"""A database outage shown as a plain 503 page instead of a server error."""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 10


class DatabaseUnavailableMiddleware:
    """Answer 503 "try again in a moment" when a view cannot reach the database.

    While the writer switches over, or a node is down, connecting fails with OperationalError (InterfaceError
    on a connection that broke mid-request). That is an outage, not a bug: the user gets a page that says so,
    rendered without a request context so nothing on it needs the database; the error goes to the log. Lock wait
    timeouts and deadlocks are OperationalErrors too, and "try again in a moment" suits them as well.
    Only errors raised in a view come here; one raised in another middleware is still a 500.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, OperationalError | InterfaceError):
            return None
        logger.error("Database error on %s %s; answered 503", request.method, request.path, exc_info=exception)
        response = HttpResponse(render_to_string("503.html"), status=503)
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
