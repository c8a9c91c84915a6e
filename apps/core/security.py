"""Security headers that Django's SecurityMiddleware does not set: the Content-Security-Policy.

The policy comes from settings.PLAYBOOK_CSP (directive -> sources). Pages carry no inline script and no
inline style, so the policy needs neither 'unsafe-inline' nor 'unsafe-eval'. Django's own middleware
(SecurityMiddleware, XFrameOptionsMiddleware) sets nosniff, Referrer-Policy, X-Frame-Options and, behind TLS,
HSTS; frame-ancestors 'none' here says the same as X-Frame-Options DENY to browsers that read CSP.
"""
from django.conf import settings


def csp_header_value(policy: dict[str, list[str]]) -> str:
    """`{"script-src": ["'self'"]}` -> `script-src 'self'` (directives joined by `; `)."""
    return "; ".join(" ".join([directive, *sources]) for directive, sources in policy.items())


class SecurityHeadersMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        self.csp = csp_header_value(settings.PLAYBOOK_CSP)

    def __call__(self, request):
        response = self.get_response(request)
        # A view may set its own, stricter or looser, policy (none does today).
        response.headers.setdefault("Content-Security-Policy", self.csp)
        return response


def csp_relaxed(view, **directives: list[str]):
    """Wrap a view whose third-party page needs more than the site-wide policy (e.g. Swagger UI's inline
    <style>): the given directives replace the site-wide ones for that view only."""
    from functools import wraps

    policy = csp_header_value({**settings.PLAYBOOK_CSP, **{k.replace("_", "-"): v for k, v in directives.items()}})

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        response = view(request, *args, **kwargs)
        response.headers["Content-Security-Policy"] = policy
        return response

    return wrapper
