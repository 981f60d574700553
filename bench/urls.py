"""The app's URLs plus ``/bench/bare/``: the baseline "bare Django view served the same way".

It goes through the same gunicorn, middleware, session and login as the staff
pages and renders the same base template (navigation, language switch) for
the logged-in user — with no data of its own. A staff page's time over this
one is what the page itself costs.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path

from projman.urls import urlpatterns as app_urlpatterns


@login_required
def bare(request: HttpRequest) -> HttpResponse:
    return render(request, "org/base.html")


urlpatterns = [path("bench/bare/", bare, name="bench-bare"), *app_urlpatterns]
