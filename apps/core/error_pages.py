"""Error responses Django would otherwise draw itself: a refused CSRF check, and 404/500 as `{error}` for
the API (pages keep the styled templates/404.html and 500.html)."""
from django.http import HttpResponseServerError, JsonResponse
from django.shortcuts import render
from django.template import loader


def csrf_failure(request, reason=""):
    """A form posted without a valid CSRF token (an expired page, cookies off): 403, in the site's style.
    The reason Django found stays in the logs, not on the page."""
    return render(request, "403.html", {
        "exception": "This form expired or came from another site, so nothing was changed. "
                     "Reload the page and try again.",
    }, status=403)


def _api(request) -> bool:
    return request.path.startswith("/api/")


def page_not_found(request, exception=None):
    """404: `{error}` under /api/ (an unknown API route answers like every API refusal), else the page."""
    if _api(request):
        return JsonResponse({"error": "Not found."}, status=404)
    return render(request, "404.html", status=404)


def server_error(request):
    """500: `{error}` under /api/, else the standalone page; never a traceback. Rendered without the request
    context (no database, no session), as Django's own handler does, since either may be what failed."""
    if _api(request):
        return JsonResponse({"error": "Playbook could not finish this request; nothing was half-saved."},
                            status=500)
    return HttpResponseServerError(loader.get_template("500.html").render())
