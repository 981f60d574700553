#!/usr/bin/env python
from __future__ import annotations

import os
import sys

# Commands that serve requests, and so need the production secrets when DEBUG is off.
SERVING_COMMANDS = {"runserver"}


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "projman.settings")
    from django.core.exceptions import ImproperlyConfigured

    try:
        import projman.settings  # noqa: F401 — fail here, in one line, on bad configuration

        if SERVING_COMMANDS & set(sys.argv[1:2]):
            from projman.startup import require_serving_configuration

            require_serving_configuration()
    except ImproperlyConfigured as exc:
        sys.exit(f"projman: configuration error: {exc}")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
