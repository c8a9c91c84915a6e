"""Small helpers shared by the page views."""
from django.contrib import messages
from django.http import HttpRequest
from django_htmx.middleware import HtmxDetails

from apps.core.errors import ApplicationError, NotFound


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


def flash_error(request, exc: ApplicationError) -> None:
    """Show a refused action's message on the next page; a 404 stays a 404."""
    if isinstance(exc, NotFound):
        raise exc
    messages.error(request, exc.message)
