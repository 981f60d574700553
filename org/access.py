"""Who may see and change what.

- **HR administrators** (the group, or a superuser): everything.
- **Managers**: whoever holds the Accountable assignment on a department or a project today (a department's head,
  a project's manager), through the login user linked to their employee record. They may create, change and end
  assignments on that department, the departments under it and the projects those own, and on that project: their
  *scope*. The "Department managers" group holds the permissions that go with it; ``ManagerPermissionBackend``
  grants them to whoever manages a department or a project today, so access follows the data and ends with the
  assignment. (Putting someone in the group by hand gives the permissions but no scope: nothing to change.)
- **Viewers** (the group): read the staff pages; no admin.
- A user whose employee record has a leave date in the past has no access at all, whatever their groups.

Everything here is read once per request (one query, ``facts_of``; the managed subtree only where it is needed) and
kept on the user object.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.backends import BaseBackend
from django.contrib.auth.models import Permission
from django.db import connections, router
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

    def employees(self, queryset: QuerySet) -> QuerySet:
        """Employees whose home department is in the scope (``holds``)."""
        return queryset if self.everything else queryset.filter(department_id__in=self.department_ids)

    def assignments(self, queryset: QuerySet) -> QuerySet:
        if self.everything:
            return queryset
        return queryset.filter(Q(department_id__in=self.department_ids) | Q(project_id__in=self.project_ids))

    def holds(self, obj) -> bool:
        """Whether a department, a project or an employee (by their home department) is in the scope."""
        if self.everything:
            return True
        if obj._meta.model_name == "project":
            return obj.pk in self.project_ids
        return (obj.department_id if obj._meta.model_name == "employee" else obj.pk) in self.department_ids

    def covers(self, assignment) -> bool:
        return (
            self.everything
            or assignment.department_id in self.department_ids
            or assignment.project_id in self.project_ids
        )


NOTHING = Scope(everything=False)


@dataclass(frozen=True)
class Facts:
    """What access turns on, read in one query per request: whether the user's employee record has left, whether
    they are in the HR group, whether they may view assignments through a group or their own permissions, and
    whether they are Accountable for a department or a project today."""

    has_left: bool
    in_hr_group: bool
    may_view: bool
    manages: bool


def facts_of(user) -> Facts:
    if not hasattr(user, "_projman_facts"):
        user._projman_facts = _read_facts(user)
    return user._projman_facts


def _read_facts(user) -> Facts:
    """The facts in one query, written out in SQL: it runs on every request, and the ORM took about 6 ms to build
    these five EXISTS where the database answers in half a millisecond."""
    from django.contrib.auth.models import Group, User

    from org.models import Assignment, Employee, Level

    db = connections[router.db_for_read(Employee)]
    quote = db.ops.quote_name
    employee, assignment = quote(Employee._meta.db_table), quote(Assignment._meta.db_table)
    user_groups = quote(User.groups.through._meta.db_table)
    user_permissions = quote(User.user_permissions.through._meta.db_table)
    group_permissions = quote(Group.permissions.through._meta.db_table)
    permission, content_type = quote(Permission._meta.db_table), quote("django_content_type")
    group = quote(Group._meta.db_table)
    may_view = (
        f"JOIN {permission} p ON p.id = x.permission_id JOIN {content_type} ct ON ct.id = p.content_type_id "
        "WHERE ct.app_label = 'org' AND p.codename = 'view_assignment'"
    )
    sql = (
        f"SELECT EXISTS(SELECT 1 FROM {employee} WHERE user_id = %s AND leave_date < %s),"
        f" EXISTS(SELECT 1 FROM {user_groups} ug JOIN {group} g ON g.id = ug.group_id"
        "  WHERE ug.user_id = %s AND g.name = %s),"
        f" EXISTS(SELECT 1 FROM {user_permissions} x {may_view} AND x.user_id = %s),"
        f" EXISTS(SELECT 1 FROM {user_groups} ug JOIN {group_permissions} x ON x.group_id = ug.group_id {may_view}"
        "  AND ug.user_id = %s),"
        f" EXISTS(SELECT 1 FROM {assignment} a JOIN {employee} e ON e.id = a.employee_id"
        "  WHERE e.user_id = %s AND a.level = %s"
        "  AND a.start_date <= %s AND (a.end_date IS NULL OR a.end_date >= %s))"
    )
    today = db.ops.adapt_datefield_value(timezone.localdate())
    params = [user.pk, today, user.pk, HR_GROUP, user.pk, user.pk, user.pk, Level.ACCOUNTABLE, today, today]
    with db.cursor() as cursor:
        cursor.execute(sql, params)
        left, hr, view_own, view_group, manages = cursor.fetchone()
    return Facts(
        has_left=bool(left), in_hr_group=bool(hr), may_view=bool(view_own or view_group), manages=bool(manages)
    )


def _usable(user) -> bool:
    return user.is_authenticated and user.is_active


def has_left(user) -> bool:
    """Whether the employee record linked to ``user`` has a leave date before today."""
    return _usable(user) and facts_of(user).has_left


def is_hr(user) -> bool:
    """HR administrators: superusers, and members of the HR group who are still employed."""
    if not _usable(user):
        return False
    return user.is_superuser or (facts_of(user).in_hr_group and not facts_of(user).has_left)


def is_manager(user) -> bool:
    """Holds the Accountable assignment on a department or a project today, and is still employed."""
    return _usable(user) and facts_of(user).manages and not facts_of(user).has_left


def scope_of(user) -> Scope:
    """What ``user`` may change: everything for HR; for a manager, the part of the tree they head and the projects
    it owns, and the projects they manage."""
    if is_hr(user):
        return Scope(everything=True)
    if not is_manager(user):
        return NOTHING
    if not hasattr(user, "_projman_scope"):
        from org.models import Assignment

        held = Assignment.objects.as_of(timezone.localdate()).accountable().filter(employee__user=user)
        pairs = list(held.values_list("department_id", "project_id"))
        user._projman_scope = _managed(
            frozenset(d for d, _p in pairs if d is not None), frozenset(p for _d, p in pairs if p is not None)
        )
    return user._projman_scope


def _managed(heads: frozenset[int], led: frozenset[int]) -> Scope:
    """The departments under ``heads`` (themselves included), the projects those own, and the projects ``led``."""
    from org.models import Project
    from org.selectors import department_subtree_ids

    departments, projects = set(), set()
    if heads:
        departments = department_subtree_ids(*heads)
        projects = set(Project.objects.filter(department_id__in=departments).values_list("pk", flat=True))
    return Scope(everything=False, department_ids=frozenset(departments), project_ids=frozenset(projects | led))


def may_read_pages(user) -> bool:
    """The staff pages: anyone still employed who may view assignments (viewers, managers, HR)."""
    if not _usable(user):
        return False
    facts = facts_of(user)
    return not facts.has_left and (user.is_superuser or facts.may_view or facts.in_hr_group or facts.manages)


def may_enter_admin(user) -> bool:
    """The admin: staff accounts, HR administrators and today's department and project managers, still employed."""
    if not _usable(user) or has_left(user):
        return False
    return user.is_staff or is_hr(user) or is_manager(user)


class ManagerPermissionBackend(BaseBackend):
    """Gives the "Department managers" group's permissions to whoever manages a department or a project today.

    Listed after Django's ModelBackend, it only adds: permissions from a user's own groups still come from there.
    """

    def get_all_permissions(self, user_obj, obj=None) -> set[str]:
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None:
            return set()
        if not hasattr(user_obj, "_projman_manager_perms"):
            if is_manager(user_obj):
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
