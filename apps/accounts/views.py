"""The account pages: API tokens, and the page a locked-out sign-in gets."""
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from apps.accounts.apis import lockout_message
from apps.accounts.services import api_token_create, api_token_get, api_token_revoke, api_tokens_visible
from apps.core.errors import ApplicationError
from apps.core.views import HtmxHttpRequest, flash_error


def _tokens_page(request, *, issued=None, status=200):
    return render(request, "accounts/tokens.html", {
        "tokens": api_tokens_visible(actor=request.user).order_by("revoked_at", "-created_at")[:200],
        "issued": issued, "show_owner": request.user.is_staff, "now": timezone.now(),
        "max_days": settings.PLAYBOOK_API_TOKEN_DAYS,
    }, status=status)


@login_required
@require_GET
def token_list(request: HtmxHttpRequest):
    return _tokens_page(request)


@login_required
@require_POST
def token_create(request: HtmxHttpRequest):
    raw_days = request.POST.get("days", "").strip()
    try:
        days = int(raw_days) if raw_days else None
    except ValueError:
        messages.error(request, "Days must be a whole number.")
        return redirect("accounts:tokens")
    try:
        issued = api_token_create(actor=request.user, name=request.POST.get("name", ""), days=days)
    except ApplicationError as exc:
        flash_error(request, exc)
        return redirect("accounts:tokens")
    # Rendered, not redirected: the key is on this one response and stored nowhere (not even the session).
    response = _tokens_page(request, issued=issued)
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def token_revoke(request: HtmxHttpRequest, token_id: int):
    token = api_token_get(actor=request.user, token_id=token_id)
    try:
        api_token_revoke(actor=request.user, token=token)
    except ApplicationError as exc:
        flash_error(request, exc)
    else:
        messages.success(request, f"Token {token.name!r} ({token.prefix}…) is revoked: it no longer opens the API.")
    return redirect("accounts:tokens")


def lockout_response(request, original_response=None, credentials=None):
    """What django-axes answers a locked-out sign-in: 429, as `{error}` for the API, else a styled page."""
    if request.path.startswith("/api/"):
        return JsonResponse({"error": lockout_message()}, status=429)
    return render(request, "accounts/locked_out.html", {"message": lockout_message()}, status=429)
