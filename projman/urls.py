from __future__ import annotations

from django.contrib import admin
from django.urls import path
from django.views.generic import RedirectView

from projman import views

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("", RedirectView.as_view(pattern_name="admin:index", permanent=False)),
]
