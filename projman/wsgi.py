from __future__ import annotations

import os
import sys

from django.core.exceptions import ImproperlyConfigured
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "projman.settings")

try:
    from projman.startup import require_serving_configuration

    require_serving_configuration()  # a bad or missing variable stops the server with one line naming it
except ImproperlyConfigured as exc:
    print(f"projman: configuration error: {exc}", file=sys.stderr, flush=True)
    raise SystemExit(1) from None

application = get_wsgi_application()
