from django.conf import settings
from django.db import models
from django.db.models import Q


class Notification(models.Model):
    """One message to one person about one audit event: a gate that waits for them, a play that became
    theirs, a decision on their work, a monitoring alert, a new cycle. Written only by
    apps.notifications.services (derived from committed audit events); at most one per (recipient, event)."""

    class Kind(models.TextChoices):
        GATE_WAITING = "gate_waiting", "A gate waits for your decision"
        PLAY_READY = "play_ready", "A play is ready for you"
        GATE_DECIDED = "gate_decided", "A gate was decided"
        ALERT = "alert", "A monitoring alert"
        CYCLE_OPENED = "cycle_opened", "A cycle opened"
        PRODUCTION = "production", "What production serves changed"

    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    project = models.ForeignKey("playbook.Project", null=True, blank=True, on_delete=models.CASCADE,
                                related_name="+")
    # The audit event it was derived from (the trail is append-only, so the reference never dangles).
    event = models.ForeignKey("audit.AuditEvent", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    link = models.CharField(max_length=500, blank=True)  # a path on this site: the page to act on
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)
    email_error = models.TextField(blank=True)  # why the email could not be sent; the notification stays

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["recipient", "event"], name="notifications_one_per_recipient_event"),
        ]
        indexes = [
            # The inbox lists a person's notifications newest first.
            models.Index(fields=["recipient", "-created_at"], name="notifications_inbox"),
            # The nav badge counts a person's unread ones on every page: only unread rows are indexed.
            models.Index(fields=["recipient"], condition=Q(read_at__isnull=True), name="notifications_unread"),
        ]

    def __str__(self):
        return f"{self.title} → {self.recipient_id}"

    @property
    def is_read(self) -> bool:
        return self.read_at is not None


class NotificationPreference(models.Model):
    """A person's choice about email; without a row, email is on."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                                related_name="notification_preference")
    email = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"{self.user_id}: email {'on' if self.email else 'off'}"
