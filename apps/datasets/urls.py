from django.urls import path

from apps.datasets import views

app_name = "datasets"

urlpatterns = [path("<int:audit_id>/", views.audit_page, name="audit")]
