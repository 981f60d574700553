"""A database outage shown as a plain 503 page instead of a server error, and a read that lost its connection
answered again on a fresh one."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from django.conf import settings
from django.db import InterfaceError, OperationalError, connections
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string

from org.middleware import READ_METHODS

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 10

# MariaDB/MySQL client and server codes that mean the connection itself failed, not the statement: cannot connect
# (2002, 2003), server gone away (2006), lost during a query or the handshake (2013, 2055), the connection was
# killed (1927) or timed out idle (4031). HAProxy in front turns "no server left" into 2013 at the handshake.
CONNECTION_LOST_CODES = frozenset({2002, 2003, 2006, 2013, 2055, 1927, 4031})

# Pauses between attempts to read again: the first at once (the usual case is a query that was in flight on a
# node as it died, and a new connection through HAProxy goes to the other node), then backing off while the
# writer endpoint fails over (about a second, docs/operations.md).
RETRY_PAUSES = (0.0, 0.1, 0.2, 0.4) + (0.5,) * 20


def connection_lost(exception: Exception) -> bool:
    """Whether a database error says the connection failed (worth a new one), not that the statement did."""
    if isinstance(exception, InterfaceError):  # mysqlclient on a connection already closed under it
        return True
    cause = exception.__cause__
    code = cause.args[0] if cause is not None and cause.args else None
    return isinstance(exception, OperationalError) and code in CONNECTION_LOST_CODES


class DatabaseUnavailableMiddleware:
    """Read again on a fresh connection when a read lost its connection; answer 503 "try again in a moment" when
    the database cannot be reached.

    A GET (HEAD, OPTIONS) writes nothing, so when its connection breaks (a node killed under a query, a writer
    switch) the view runs again on new connections, for up to DATABASE_READ_RETRY_SECONDS. Its routing stays as it
    was: a browser pinned to the writer after a write waits for the new writer rather than read from a replica
    that may not have applied the write yet. A POST is never run twice (its write may have landed), and nothing is
    retried inside a transaction (a test's, or a view's own).

    When the database stays out of reach, connecting fails with OperationalError (InterfaceError on a connection
    that broke mid-request). That is an outage, not a bug: the user gets a page that says so, rendered without a
    request context so nothing on it needs the database; the error goes to the log. Lock wait timeouts and
    deadlocks are OperationalErrors too, and "try again in a moment" suits them as well.
    Only errors raised in a view or while rendering its response come here; one raised in another middleware is
    still a 500.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, OperationalError | InterfaceError):
            return None
        if self._may_read_again(request, exception):
            request.read_again = True  # once per request: a failure while rendering the retry is not retried
            response = self._read_again(request)
            if response is not None:
                return response
        logger.error("Database error on %s %s; answered 503", request.method, request.path, exc_info=exception)
        response = HttpResponse(render_to_string("503.html"), status=503)
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response

    @staticmethod
    def _may_read_again(request: HttpRequest, exception: Exception) -> bool:
        return (
            settings.DATABASE_READ_RETRY_SECONDS > 0
            and request.method in READ_METHODS
            and not getattr(request, "read_again", False)
            and request.resolver_match is not None
            and connection_lost(exception)
            and not any(connection.in_atomic_block for connection in connections.all(initialized_only=True))
        )

    @staticmethod
    def _read_again(request: HttpRequest) -> HttpResponse | None:
        """The view's response from new connections, or None when every attempt lost its connection again."""
        match = request.resolver_match
        deadline = time.monotonic() + settings.DATABASE_READ_RETRY_SECONDS
        for attempt, pause in enumerate(RETRY_PAUSES, start=1):
            if time.monotonic() + pause > deadline:
                break
            time.sleep(pause)
            for connection in connections.all(initialized_only=True):
                connection.close()
            try:
                response = match.func(request, *match.args, **match.kwargs)
                if callable(getattr(response, "render", None)):
                    response = response.render()  # a failure while rendering must land here, not in Django
            except (OperationalError, InterfaceError) as exc:
                if connection_lost(exc):
                    continue
                break  # the database answered, with an error: an outage of another kind
            logger.warning(
                "Database connection lost on %s %s; answered on a new connection (attempt %d)",
                request.method,
                request.path,
                attempt,
            )
            return response
        return None
