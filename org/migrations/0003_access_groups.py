"""The three groups of org.access (HR administrators, Department managers, Viewers), with their permissions.

Permissions are normally created after all migrations run; they are made here first so a fresh database gets the
groups complete. org.apps brings them up to date again after every migrate.
"""

from __future__ import annotations

from django.contrib.auth.management import create_permissions
from django.db import migrations

from org.access import GROUP_PERMISSIONS, define_groups


def make_groups(apps, schema_editor):
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    define_groups(apps.get_model("auth", "Group"), apps.get_model("auth", "Permission"))


def remove_groups(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=list(GROUP_PERMISSIONS)).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("org", "0002_page_indexes"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("axes", "0010_accessattemptexpiration"),
    ]

    operations = [migrations.RunPython(make_groups, remove_groups)]
