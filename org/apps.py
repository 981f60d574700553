from __future__ import annotations

from django.apps import AppConfig
from django.db import DEFAULT_DB_ALIAS
from django.db.backends.signals import connection_created
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


def _define_groups(sender, using, **kwargs) -> None:
    """After every migrate (and the flush between transactional tests, which empties the tables): the access groups
    of org.access exist with their current permissions, new models' included."""
    from django.contrib.auth.models import Group, Permission

    from org.access import define_groups

    if using == DEFAULT_DB_ALIAS and Permission.objects.exists():
        define_groups(Group, Permission)


class OrgConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "org"
    verbose_name = _("Organisation")

    def ready(self) -> None:
        # Connected for the last app migrated: permissions (made in auth's handler) exist by then.
        post_migrate.connect(_define_groups, dispatch_uid="org.define_groups")
        from org.filters import register_fold

        # Before any connection is made: the search lookups on SQLite call the function it defines.
        connection_created.connect(register_fold, dispatch_uid="org.register_fold")
