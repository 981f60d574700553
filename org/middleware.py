"""Middleware of the staff pages."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from org import selectors

#: Methods that only read (RFC 9110's safe methods): Django's views, the admin's included, write on POST.
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class OneDataVersionPerRead:
    """Read the data version (``org.selectors.data_version``) at most once per GET request.

    A page that shows several remembered figures (the department page: the tree and the chart) would
    otherwise ask for it once per figure. The memo lives as long as the request, so a write still shows
    on the next one; a POST, which may write, reads it afresh each time.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method not in READ_METHODS:
            return self.get_response(request)
        with selectors.one_data_version():
            return self.get_response(request)
