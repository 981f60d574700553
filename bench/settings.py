"""The app's own settings plus one page for the benchmarks' baseline (``bench/urls.py``)."""

from __future__ import annotations

from projman.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
