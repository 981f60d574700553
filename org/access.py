"""Who may see and change what.

- **HR administrators** (the group, or a superuser): everything.
- **Department managers**: whoever holds the Accountable assignment on a department today, through the login user
  linked to their employee record. They may create, change and end assignments on that department, the
  departments under it and the projects those own: their *scope*. The "Department managers" group holds the
  permissions that go with it; ``ManagerPermissionBackend`` grants them to whoever manages a department today, so
  access follows the data and ends with the assignment. (Putting someone in the group by hand gives the
  permissions but no scope: nothing to change.)
- **Viewers** (the group): read the staff pages; no admin.
- A user whose employee record has a leave date in the past has no access at all, whatever their groups.

Everything here is read once per request and kept on the user object.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.backends import BaseBackend
from django.contrib.auth.models import Permission
from django.db.models import Q, QuerySet
from django.utils import timezone

HR_GROUP = "HR administrators"
MANAGER_GROUP = "Department managers"
VIEWER_GROUP = "Viewers"

_READ_MODELS = ("department", "employee", "project", "role", "assignment")
_VIEW = tuple(f"view_{model}" for model in _READ_MODELS)
_VIEW_HISTORY = tuple(f"view_historical{model}" for model in _READ_MODELS)
# Group → (apps all of whose permissions it holds, codenames of org's permissions it holds).
GROUP_PERMISSIONS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    HR_GROUP: (("org", "auth", "axes"), ()),
    MANAGER_GROUP: ((), (*_VIEW, *_VIEW_HISTORY, "add_assignment", "change_assignment")),
    VIEWER_GROUP: ((), _VIEW),
}


def define_groups(group_model, permission_model) -> None:
    """Create the three groups, or bring their permissions up to date; the models are passed in so the data
    migration can call it with its historical ones. Run after every migrate and flush too (org.apps)."""
    for name, (apps_, codenames) in GROUP_PERMISSIONS.items():
        group, _created = group_model.objects.get_or_create(name=name)
        wanted = permission_model.objects.filter(
            Q(content_type__app_label__in=apps_) | Q(content_type__app_label="org", codename__in=codenames)
        )
        group.permissions.set(wanted)


@dataclass(frozen=True)
class Scope:
    """The part of the organisation a user may change: everything, or some departments and projects."""

    everything: bool
    department_ids: frozenset[int] = frozenset()
    project_ids: frozenset[int] = frozenset()

    def departments(self, queryset: QuerySet) -> QuerySet:
        return queryset if self.everything else queryset.filter(pk__in=self.department_ids)

    def projects(self, queryset: QuerySet) -> QuerySet:
        return queryset if self.everything else queryset.filter(pk__in=self.project_ids)

    def assignments(self, queryset: QuerySet) -> QuerySet:
        if self.everything:
            return queryset
        return queryset.filter(Q(department_id__in=self.department_ids) | Q(project_id__in=self.project_ids))

    def covers(self, assignment) -> bool:
        return (
            self.everything
            or assignment.department_id in self.department_ids
            or assignment.project_id in self.project_ids
        )


NOTHING = Scope(everything=False)


def has_left(user) -> bool:
    """Whether the employee record linked to ``user`` has a leave date before today."""
    if not user.is_authenticated:
        return False
    if not hasattr(user, "_projman_has_left"):
        from org.models import Employee

        user._projman_has_left = Employee.objects.filter(user=user, leave_date__lt=timezone.localdate()).exists()
    return user._projman_has_left


def is_hr(user) -> bool:
    """HR administrators: superusers and members of the HR group, active and still employed."""
    if not user.is_active or not user.is_authenticated:
        return False
    if not hasattr(user, "_projman_is_hr"):
        user._projman_is_hr = user.is_superuser or user.groups.filter(name=HR_GROUP).exists()
    return user._projman_is_hr and (user.is_superuser or not has_left(user))


def scope_of(user) -> Scope:
    """What ``user`` may change: everything for HR, the managed part of the tree for a department manager."""
    if not user.is_authenticated or not user.is_active:
        return NOTHING
    if is_hr(user):
        return Scope(everything=True)
    if not hasattr(user, "_projman_scope"):
        user._projman_scope = NOTHING if has_left(user) else _managed(user)
    return user._projman_scope


def _managed(user) -> Scope:
    from org.models import Assignment, Department, Project
    from org.selectors import subtree_ids

    heads = set(
        Assignment.objects.current()
        .accountable()
        .filter(employee__user=user, department__isnull=False)
        .values_list("department_id", flat=True)
    )
    if not heads:
        return NOTHING
    children: dict[int | None, list[int]] = {}
    for pk, parent_id in Department.objects.values_list("pk", "parent_id"):
        children.setdefault(parent_id, []).append(pk)
    departments = set().union(*(subtree_ids(head, children) for head in heads))
    projects = set(Project.objects.filter(department_id__in=departments).values_list("pk", flat=True))
    return Scope(everything=False, department_ids=frozenset(departments), project_ids=frozenset(projects))


def may_read_pages(user) -> bool:
    """The staff pages: anyone still employed who may view assignments (viewers, managers, HR)."""
    return user.is_authenticated and user.is_active and not has_left(user) and user.has_perm("org.view_assignment")


class ManagerPermissionBackend(BaseBackend):
    """Gives the "Department managers" group's permissions to whoever manages a department today.

    Listed after Django's ModelBackend, it only adds: permissions from a user's own groups still come from there.
    """

    def get_all_permissions(self, user_obj, obj=None) -> set[str]:
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None:
            return set()
        if not hasattr(user_obj, "_projman_manager_perms"):
            if scope_of(user_obj).department_ids:
                rows = Permission.objects.filter(group__name=MANAGER_GROUP).values_list(
                    "content_type__app_label", "codename"
                )
                user_obj._projman_manager_perms = {f"{app}.{codename}" for app, codename in rows}
            else:
                user_obj._projman_manager_perms = set()
        return user_obj._projman_manager_perms

    def has_perm(self, user_obj, perm, obj=None) -> bool:
        return perm in self.get_all_permissions(user_obj, obj)

    def has_module_perms(self, user_obj, app_label) -> bool:
        return any(perm.startswith(f"{app_label}.") for perm in self.get_all_permissions(user_obj))
