"""The admin site: HR administrators, staff accounts and today's department managers may enter; a user who has
left may not, whatever their flags (org.access)."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from org.access import has_left, is_hr, scope_of


class ProjManAdminSite(admin.AdminSite):
    def has_permission(self, request: HttpRequest) -> bool:
        user = request.user
        if not user.is_active or not user.is_authenticated or has_left(user):
            return False
        return user.is_staff or is_hr(user) or bool(scope_of(user).department_ids)
