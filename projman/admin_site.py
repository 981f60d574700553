"""The admin site: HR administrators, staff accounts and today's department managers may enter; a user who has
left may not, whatever their flags (org.access)."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.admin.views.autocomplete import AutocompleteJsonView
from django.http import HttpRequest

from org.access import may_enter_admin


class LabelledAutocompleteJsonView(AutocompleteJsonView):
    """Autocomplete answers labelled by the model admin's ``autocomplete_label(obj)`` where it has one."""

    def serialize_result(self, obj, to_field_name):
        result = super().serialize_result(obj, to_field_name)
        label = getattr(self.model_admin, "autocomplete_label", None)
        if label is not None:
            result["text"] = label(obj)
        return result


class ProjManAdminSite(admin.AdminSite):
    def has_permission(self, request: HttpRequest) -> bool:
        return may_enter_admin(request.user)

    def autocomplete_view(self, request):
        return LabelledAutocompleteJsonView.as_view(admin_site=self)(request)
