"""The site's routes plus one that fails, for the 500 tests (tests/unit/test_security.py)."""
from django.urls import path

from config import urls as site


def crash(request):
    raise RuntimeError("a deliberate failure")


# Django reads the error handlers from the root URLconf module.
handler404 = site.handler404
handler500 = site.handler500
urlpatterns = [path("crash/", crash), path("api/crash/", crash), *site.urlpatterns]
