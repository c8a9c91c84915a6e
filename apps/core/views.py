"""Small helpers shared by the page views."""
from functools import wraps

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django_htmx.middleware import HtmxDetails

from apps.core.errors import ApplicationError, NotAllowed, NotFound, ValidationFailed


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


def flash_error(request, exc: ApplicationError, *, marked: bool = False) -> None:
    """Show a refused action's message on the next page. A role refusal stays a 403 and a hidden object
    a 404 (the middleware renders them), so a page never answers a forbidden action with a redirect.
    ``marked``: the page re-renders the form with each field's message next to it (field_errors); the top
    of the page sums them up (so a problem with a field the page does not show is still said)."""
    if isinstance(exc, (NotAllowed, NotFound)):
        raise exc
    fields = field_errors(exc)
    if marked and fields:
        messages.error(request, f"Nothing was saved. {exc.message}")
    else:
        messages.error(request, exc.message)


def field_errors(exc: ApplicationError) -> dict:
    """The refusal's per-field messages ({field name: message}); empty for any other refusal."""
    return dict(exc.fields) if isinstance(exc, ValidationFailed) else {}


def staff_required(view):
    """Anonymous users go to the sign-in page; signed-in users who are not admins get a 403."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not request.user.is_staff:
            raise PermissionDenied("Admins only.")
        return view(request, *args, **kwargs)

    return wrapper
