from django.urls import path

from apps.datasets import views

app_name = "datasets"

urlpatterns = [
    path("<int:audit_id>/", views.audit_page, name="audit"),
    path("<int:audit_id>/cancel/", views.audit_cancel, name="audit-cancel"),
    path("<int:audit_id>/reassign/", views.audit_reassign, name="audit-reassign"),
]
