"""Template context for every page: whether to offer the admin link (org.access; no query of its own, the access
facts are read once per request)."""

from __future__ import annotations

from django.http import HttpRequest

from org.access import may_enter_admin


def access(request: HttpRequest) -> dict:
    return {"may_enter_admin": lambda: may_enter_admin(request.user)}
