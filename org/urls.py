from __future__ import annotations

from django.urls import path

from org import views

app_name = "org"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("gaps/<slug:kind>/", views.gap_list, name="gap"),
    path("responsible/", views.responsible, name="responsible"),
    path("projects/", views.project_list, name="projects"),
    path("projects/<str:code>/", views.project_detail, name="project"),
    path("departments/", views.department_list, name="departments"),
    path("departments/<str:code>/", views.department_detail, name="department"),
    path("employees/", views.employee_list, name="employees"),
    path("employees/<str:number>/", views.employee_detail, name="employee"),
]
