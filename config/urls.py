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

# Styled pages for people, `{error}` for the API (apps.core.error_pages); 400 and 403 use templates/.
handler404 = "apps.core.error_pages.page_not_found"
handler500 = "apps.core.error_pages.server_error"
