"""The admin site: HR administrators, staff accounts and today's department managers may enter; a user who has
left may not, whatever their flags (org.access)."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from org.access import may_enter_admin


class ProjManAdminSite(admin.AdminSite):
    def has_permission(self, request: HttpRequest) -> bool:
        return may_enter_admin(request.user)
