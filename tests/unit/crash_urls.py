"""The site's routes plus one that fails, for the 500 page test (tests/unit/test_security.py)."""
from django.urls import path

from config.urls import urlpatterns as site_urlpatterns


def crash(request):
    raise RuntimeError("a deliberate failure")


urlpatterns = [*site_urlpatterns, path("crash/", crash)]
