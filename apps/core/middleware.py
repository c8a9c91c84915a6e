import re

from django.http import Http404
from django.shortcuts import render

from apps.core.errors import ApplicationError, NotFound
from apps.core.request_context import (current_request_id, read_memo_close, read_memo_open, reset_request_id,
                                       set_request_id)

_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


class RequestIdMiddleware:
    """Gives every request an id (an incoming X-Request-ID is kept if it looks sane) and echoes it back.

    A GET or HEAD request, which changes nothing, gets a memo for the answers a page asks for more than
    once (apps.core.request_context.memoized).

    Also turns a domain error that escaped a page view into a page with its message and status, so a
    service's refusal reads the same whichever view met it.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")
        token = set_request_id(incoming if _SAFE_ID.match(incoming) else None)
        memo = read_memo_open() if request.method in ("GET", "HEAD") else None
        try:
            request.request_id = current_request_id()
            response = self.get_response(request)
            response["X-Request-ID"] = request.request_id
            return response
        finally:
            if memo is not None:
                read_memo_close(memo)
            reset_request_id(token)

    def process_exception(self, request, exception):
        if isinstance(exception, NotFound):
            raise Http404(exception.message)
        if isinstance(exception, ApplicationError):
            return render(request, "error.html", {"message": exception.message}, status=exception.status_code)
        return None
