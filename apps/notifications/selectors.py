"""Reading notifications: each person reads only their own."""
from django.db.models import BooleanField, ExpressionWrapper, Q

from apps.core.errors import NotFound
from apps.notifications.models import Notification, NotificationPreference


def notifications_for_user(user, *, unread_only: bool = False):
    """The user's notifications, unread first, then newest first."""
    rows = Notification.objects.filter(recipient=user)
    if unread_only:
        rows = rows.filter(read_at__isnull=True)
    return rows.annotate(unread=ExpressionWrapper(Q(read_at__isnull=True), output_field=BooleanField())).order_by(
        "-unread", "-created_at", "-id")


def notification_for_user(user, notification_id) -> Notification:
    """The user's own notification; anyone else's is "not found", exactly like a missing one."""
    notification = Notification.objects.filter(pk=notification_id, recipient_id=getattr(user, "pk", None)).first()
    if notification is None:
        raise NotFound("No such notification.")
    return notification


def unread_count(user) -> int:
    """One query, on the partial index of unread rows."""
    return Notification.objects.filter(recipient=user, read_at__isnull=True).count()


def email_enabled(user) -> bool:
    """Email is on unless the user turned it off."""
    return not NotificationPreference.objects.filter(user=user, email=False).exists()
