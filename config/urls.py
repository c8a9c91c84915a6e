from django.conf import settings
from django.contrib import admin
from django.http import HttpResponsePermanentRedirect, JsonResponse
from django.urls import Resolver404, include, path, re_path, resolve
from django.views.decorators.csrf import csrf_exempt


@csrf_exempt  # it changes nothing; a POST must get the JSON 404, not the CSRF page
def api_not_found(request):
    """Any /api/ path no route matches: the API's JSON error shape, not the HTML 404 page.
    A path that only lacks its trailing slash is redirected, as CommonMiddleware would."""
    if settings.APPEND_SLASH and not request.path_info.endswith("/") and request.method in ("GET", "HEAD"):
        try:
            match = resolve(request.path_info + "/")
        except Resolver404:
            match = None
        if match is not None and match.func is not api_not_found:
            return HttpResponsePermanentRedirect(request.get_full_path(force_append_slash=True))
    return JsonResponse({"error": "No API route matches this path."}, status=404)


urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", include("config.api_urls")),
    re_path(r"^api/", api_not_found),  # no $: a path with a newline in it is still an API path
    path("accounts/", include("apps.accounts.urls")),
    path("audit/", include("apps.audit.urls")),
    path("audits/", include("apps.datasets.urls")),
    path("inbox/", include("apps.notifications.urls")),
    path("", include("config.page_urls")),
]

# Styled pages for people, `{error}` for the API (apps.core.error_pages); 400 and 403 use templates/.
handler404 = "apps.core.error_pages.page_not_found"
handler500 = "apps.core.error_pages.server_error"
