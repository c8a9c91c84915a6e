from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", include("config.api_urls")),
    path("accounts/", include("apps.accounts.urls")),
    path("audit/", include("apps.audit.urls")),
    path("audits/", include("apps.datasets.urls")),
    path("inbox/", include("apps.notifications.urls")),
    path("", include("config.page_urls")),
]
