"""Error pages Django would otherwise draw itself (unstyled): a refused CSRF check."""
from django.shortcuts import render


def csrf_failure(request, reason=""):
    """A form posted without a valid CSRF token (an expired page, cookies off): 403, in the site's style.
    The reason Django found stays in the logs, not on the page."""
    return render(request, "403.html", {
        "exception": "This form expired or came from another site, so nothing was changed. "
                     "Reload the page and try again.",
    }, status=403)
