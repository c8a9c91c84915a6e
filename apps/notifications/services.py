"""Every change to notifications.

Notifications are derived from the audit trail: `on_event_committed` receives each audit event once its
transaction has committed (apps.audit.services.event_committed), so a rolled-back change notifies nobody
and no other app calls this one. Email goes out after the notifications themselves have committed; a
failure is recorded on the notification (`email_error`) and never reaches the caller.
"""
import logging

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from apps.audit.services import audit_record
from apps.core.errors import NotAllowed, NotFound, ValidationFailed
from apps.notifications.models import Notification, NotificationPreference
from apps.notifications.rules import drafts_for

logger = logging.getLogger(__name__)


def on_event_committed(sender, event, **kwargs) -> None:
    notify_for_event(event)


def notify_for_event(event) -> list[Notification]:
    """Create the notifications the event calls for (apps.notifications.rules), at most one per recipient
    and event however often it is called, and email them after commit. Returns those created now."""
    drafts = drafts_for(event)
    if not drafts:
        return []
    created = []
    with transaction.atomic():
        for draft in drafts:
            notification, new = Notification.objects.get_or_create(
                recipient_id=draft.recipient_id, event=event,
                defaults={"project_id": draft.project_id, "kind": draft.kind, "title": draft.title[:200],
                          "body": draft.body, "link": draft.link[:500]},
            )
            if new:
                created.append(notification)
        ids = [n.pk for n in created]
        if ids:
            transaction.on_commit(lambda: notifications_email(ids))
    return created


def notifications_email(ids: list[int]) -> None:
    """Email the notifications ``ids`` to recipients with an address and email on; each outcome is
    recorded on its row (``emailed_at`` or ``email_error``). Sending never raises: the in-app notification
    is already there whatever the mail server says."""
    rows = (Notification.objects.filter(pk__in=ids, emailed_at__isnull=True, email_error="")
            .select_related("recipient").order_by("pk"))
    opted_out = set(NotificationPreference.objects.filter(user__notifications__pk__in=ids, email=False)
                    .values_list("user_id", flat=True))
    for notification in rows:
        recipient = notification.recipient
        if not recipient.email or not recipient.is_active or recipient.pk in opted_out:
            continue
        try:
            send_mail(notification.title, _email_text(notification), None, [recipient.email], fail_silently=False)
        except Exception as exc:  # any transport failure: keep the notification, say why on it
            logger.warning("email for notification %s to user %s failed: %s", notification.pk, recipient.pk, exc)
            Notification.objects.filter(pk=notification.pk).update(
                email_error=(f"{type(exc).__name__}: {exc}")[:1000] or "failed")
        else:
            Notification.objects.filter(pk=notification.pk).update(emailed_at=timezone.now())


def _email_text(notification: Notification) -> str:
    base = settings.PLAYBOOK_BASE_URL.rstrip("/")
    link = f"\n\nOpen it: {base}{notification.link}" if notification.link else ""
    return (f"{notification.body}{link}\n\n--\nPlaybook. Your inbox: {base}/inbox/ "
            "(you can turn these emails off there).\n")


def notification_mark_read(*, actor, notification: Notification) -> Notification:
    """Mark one of the actor's own notifications read (again: no change). Someone else's is not found."""
    with transaction.atomic(durable=True):
        row = (Notification.objects.select_for_update()
               .filter(pk=notification.pk, recipient_id=getattr(actor, "pk", None)).first())
        if row is None:
            raise NotFound("No such notification.")
        if row.read_at is None:
            row.read_at = timezone.now()
            row.save(update_fields=["read_at"])
    return row


def notifications_mark_all_read(*, actor) -> int:
    """Mark every unread notification of the actor read; returns how many."""
    if not getattr(actor, "is_authenticated", False):
        raise NotAllowed("Sign in first.")
    with transaction.atomic(durable=True):
        return Notification.objects.filter(recipient=actor, read_at__isnull=True).update(read_at=timezone.now())


def notification_preferences_set(*, actor, email) -> NotificationPreference:
    """Turn the actor's notification emails on or off (audited: a person changing what reaches them)."""
    if not getattr(actor, "is_authenticated", False):
        raise NotAllowed("Sign in first.")
    if not isinstance(email, bool):
        raise ValidationFailed("Say whether to send e-mail: true or false.")
    with transaction.atomic(durable=True):
        preference, _ = NotificationPreference.objects.select_for_update().get_or_create(user=actor)
        if preference.email == email:
            return preference
        before = {"email": preference.email}
        preference.email = email
        preference.save(update_fields=["email", "updated_at"])
        audit_record(actor=actor, action="notifications.email_set", obj=actor, before=before, after={"email": email})
    return preference
