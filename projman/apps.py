"""The admin with ProjMan's own site: who may enter it follows org.access, not only the is_staff flag."""

from __future__ import annotations

from django.contrib.admin.apps import AdminConfig


class ProjManAdminConfig(AdminConfig):
    default_site = "projman.admin_site.ProjManAdminSite"
