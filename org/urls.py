from __future__ import annotations

from django.urls import path

from org import views

app_name = "org"

# Codes and numbers are matched whole, "/" included: new ones cannot hold one (org.models.no_slash), but one
# stored before that rule still has a page, and the pages that link to it still answer.
urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("gaps/<slug:kind>/", views.gap_list, name="gap"),
    path("responsible/", views.responsible, name="responsible"),
    path("projects/", views.project_list, name="projects"),
    path("projects/<path:code>/", views.project_detail, name="project"),
    path("departments/", views.department_list, name="departments"),
    path("departments/<path:code>/", views.department_detail, name="department"),
    path("employees/", views.employee_list, name="employees"),
    path("employees/<path:number>/", views.employee_detail, name="employee"),
]
