from django.urls import path

from apps.training import views

app_name = "training"

urlpatterns = [
    path("<int:job_id>/progress/", views.job_progress, name="job-progress"),
    path("<int:job_id>/cancel/", views.job_cancel, name="job-cancel"),
]
