"""What a process that serves requests needs beyond what settings.py can check on import."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


def require_serving_configuration() -> None:
    """Refuse to serve with DEBUG off and no SECRET_KEY or ALLOWED_HOSTS: no insecure fallback."""
    if settings.DEBUG:
        return
    try:
        settings.SECRET_KEY  # noqa: B018 — Django raises on an empty key when it is read
    except ImproperlyConfigured:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set SECRET_KEY (or SECRET_KEY_FILE) in the environment, "
            "or DEBUG=true for local development."
        ) from None
    if not settings.ALLOWED_HOSTS:
        raise ImproperlyConfigured("ALLOWED_HOSTS is empty; list the host names the app serves.")
