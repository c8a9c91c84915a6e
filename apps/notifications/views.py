"""The inbox page. Each view: parse, authorize (own notifications only), call one service, render."""
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from apps.core.errors import ApplicationError
from apps.core.views import HtmxHttpRequest, flash_error
from apps.notifications import selectors, services

PAGE_SIZE = 25


@login_required
@require_GET
def inbox(request: HtmxHttpRequest):
    page = Paginator(selectors.notifications_for_user(request.user), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "notifications/inbox.html", {
        "page": page, "email_on": selectors.email_enabled(request.user),
        "has_email": bool(request.user.email),
    })


@login_required
@require_POST
def notification_read(request: HtmxHttpRequest, notification_id: int):
    notification = selectors.notification_for_user(request.user, notification_id)
    notification = services.notification_mark_read(actor=request.user, notification=notification)
    if request.htmx:
        # The row re-renders as read, and the nav badge updates out of band.
        return render(request, "notifications/inbox.html#notification-row", {"n": notification, "oob_badge": True})
    return redirect("notifications:inbox")


@login_required
@require_POST
def notifications_read_all(request: HtmxHttpRequest):
    marked = services.notifications_mark_all_read(actor=request.user)
    messages.success(request, f"{marked} notification(s) marked read." if marked else "Nothing was unread.")
    return redirect("notifications:inbox")


@login_required
@require_POST
def preferences(request: HtmxHttpRequest):
    raw = request.POST.get("email", "")
    if raw not in ("on", "off"):
        messages.error(request, "Choose whether to get email: on or off.")
        return redirect("notifications:inbox")
    try:
        services.notification_preferences_set(actor=request.user, email=raw == "on")
    except ApplicationError as exc:
        flash_error(request, exc)
    else:
        messages.success(request, "Email notifications are on." if raw == "on" else "Email notifications are off.")
    return redirect("notifications:inbox")
