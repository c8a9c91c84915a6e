from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models


class AuditEvent(models.Model):
    """One state change, role change or authentication event; append-only and hash-chained.

    `hash` is SHA-256 over the canonical form of every other field plus `prev_hash` (the hash of the
    event before it, "" for the first), so altering, removing or reordering any row breaks the chain at
    that row; where the chain ends is kept by the signed AuditChainHead, which catches a cut tail or an
    event added behind the services' back. `python manage.py verify_audit` (or the staff audit page's
    "Verify the chain") walks both. `prev_hash` is unique: two events can never claim the same
    predecessor, so the chain cannot fork even under concurrent writers. On PostgreSQL triggers refuse
    UPDATE, DELETE (migration 0002) and TRUNCATE (0004) on this table. Rows are written only by
    apps.audit.services.
    """

    event_time = models.DateTimeField(db_index=True)
    # Null when a worker or the system acted; `actor_label` keeps the username as it was at the time.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor_label = models.CharField(max_length=150)
    action = models.CharField(max_length=64)
    project = models.ForeignKey(
        "playbook.Project", null=True, blank=True, on_delete=models.PROTECT, related_name="audit_events"
    )
    object_type = models.CharField(max_length=64, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    before = models.JSONField(null=True, blank=True, encoder=DjangoJSONEncoder)
    after = models.JSONField(null=True, blank=True, encoder=DjangoJSONEncoder)
    request_id = models.CharField(max_length=64, blank=True)
    prev_hash = models.CharField(max_length=64, unique=True)
    hash = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            # The audit page filters by project and action over a date range.
            models.Index(fields=["project", "action", "event_time"], name="audit_project_action_time"),
            models.Index(fields=["actor", "event_time"], name="audit_actor_time"),
        ]

    def __str__(self):
        return f"#{self.pk} {self.action} by {self.actor_label} at {self.event_time:%Y-%m-%d %H:%M:%S}"


class AuditChainHead(models.Model):
    """Where the chain ends, as the services left it: one row, advanced in the same transaction (and under
    the same lock) as each append.

    `seq` is the number of events in the chain and `last_hash` the hash of the last one ("" while the chain
    is empty); `signature` is their HMAC (apps.audit.head). No row at all means nothing was ever appended.
    The verifier walks the chain and compares where it ends with this row, which catches a cut tail and an
    event appended behind the services' back. On PostgreSQL a trigger refuses DELETE and TRUNCATE here.
    """

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    seq = models.BigIntegerField()
    last_hash = models.CharField(max_length=64, blank=True)
    signature = models.CharField(max_length=64)
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [models.CheckConstraint(condition=models.Q(id=1), name="audit_chainhead_single_row")]

    def __str__(self):
        return f"audit chain head: {self.seq} events, last {self.last_hash[:12] or '(none)'}"
