from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import Q

from apps.accounts.models import Role


class Project(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        CLOSED_SHIPPED = "closed_shipped", "Closed — model shipped"
        CLOSED_BASELINE_SHIPPED = "closed_baseline_shipped", "Closed — baseline shipped"
        ABANDONED = "abandoned", "Abandoned"

    name = models.CharField(max_length=200)
    request = models.TextField(help_text="What the stakeholder asked for, in their words.")
    status = models.CharField(max_length=32, choices=Status.choices, default=Status.ACTIVE)
    # Set by an admin only: one person may then hold every role, and may decide their own gate after
    # explicitly switching hats to sign-off owner (recorded in the audit trail).
    solo_mode = models.BooleanField(default=False)
    # Set by an admin: how many distinct sign-off owners must approve a model for production (Play 5).
    signoff_approvals = models.PositiveSmallIntegerField(
        default=1, choices=[(1, "One sign-off owner"), (2, "Two distinct sign-off owners")])
    # Why and when it closed (shipped, baseline shipped or abandoned).
    closed_reason = models.TextField(blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(signoff_approvals__in=[1, 2]), name="playbook_project_approvals_1_2"),
        ]
        # Leads: people an admin grants this (to the user, or to a group they are in) in the admin site, both
        # audited; they see the portfolio across every project (apps.playbook.portfolio). Admins see it anyway.
        permissions = [("view_portfolio", "Can see the portfolio across every project")]

    def __str__(self):
        return self.name


class Cycle(models.Model):
    """One pass through the six plays. The first starts from the request; later ones from a retrain trigger."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        CLOSED = "closed", "Closed"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="cycles")
    number = models.PositiveIntegerField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    started_reason = models.CharField(max_length=200, default="Request received")
    # What opened it: {"kind": "request"} for the first cycle; for a retrain {"kind": "retrain", "by":
    # "system" or a username, "from_cycle": n, "signal": {...}} (the checkpoint comes from cycle_inputs).
    trigger = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)
    closed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["project_id", "number"]
        constraints = [
            models.UniqueConstraint(fields=["project", "number"], name="playbook_cycle_unique_number"),
            # At most one active cycle per project.
            models.UniqueConstraint(
                fields=["project"], condition=Q(status="active"), name="playbook_cycle_one_active"
            ),
        ]

    def __str__(self):
        return f"{self.project} — cycle {self.number}"


class Play(models.Model):
    class Status(models.TextChoices):
        LOCKED = "locked", "Locked"
        READY = "ready", "Ready"
        IN_PROGRESS = "in_progress", "In progress"
        SUBMITTED = "submitted", "Submitted"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"
        SKIPPED = "skipped", "Skipped"
        # A retrain cycle's plays that carry over from earlier cycles (scope, base model): their hand-offs
        # are read through cycle_inputs.
        INHERITED = "inherited", "Carried over"

    cycle = models.ForeignKey(Cycle, on_delete=models.CASCADE, related_name="plays")
    number = models.PositiveSmallIntegerField()
    owner_role = models.CharField(max_length=20, choices=Role.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.LOCKED)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="assigned_plays"
    )
    deliverable = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)
    # Facts the system measured for the gate (a job's numbers, hashes); written only by services.
    evidence = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    submitted_at = models.DateTimeField(null=True, blank=True)
    # The last rejection's reason, shown to the owner until they resubmit.
    rejection_reason = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["cycle_id", "number"]
        constraints = [
            models.UniqueConstraint(fields=["cycle", "number"], name="playbook_play_unique_number"),
            models.CheckConstraint(condition=Q(number__gte=1, number__lte=6), name="playbook_play_number_1_6"),
        ]
        indexes = [
            # "Gates waiting for my decision" on the My work page.
            models.Index(fields=["status"], condition=Q(status="submitted"), name="playbook_play_submitted"),
        ]

    def __str__(self):
        return f"Play {self.number} of {self.cycle}"

    @property
    def definition(self):
        from apps.playbook.catalogue import PLAYS

        return PLAYS[self.number]

    @property
    def project(self) -> Project:
        return self.cycle.project


class GateDecision(models.Model):
    """A sign-off owner's decision on a submitted play, with the automatic checks as they stood."""

    class Decision(models.TextChoices):
        APPROVE = "approve", "Approve"
        REJECT = "reject", "Reject"
        SHIP_BASELINE = "ship_baseline", "Ship the baseline"
        # Play 5 sends a candidate back to training, or back to the data.
        REJECT_TO_PLAY4 = "reject_to_play4", "Reject: train again (Play 4)"
        REJECT_TO_PLAY3 = "reject_to_play3", "Reject: a data problem (Play 3)"
        KEEP_PRODUCTION = "keep_production", "Keep the model in production"

    play = models.ForeignKey(Play, on_delete=models.CASCADE, related_name="decisions")
    decision = models.CharField(max_length=16, choices=Decision.choices)
    reason = models.TextField(blank=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    # True when, in solo mode, the decider confirmed they were switching hats to sign-off owner.
    hat_switch = models.BooleanField(default=False)
    checks = models.JSONField(default=list, encoder=DjangoJSONEncoder)
    deliverable = models.JSONField(default=dict, encoder=DjangoJSONEncoder)
    # The play's typed hand-off to later plays, frozen at approval: {"version": n, "data": {...}} (see
    # apps.playbook.plays.PlayModule.Outputs); empty for rejections and for plays that hand nothing on.
    outputs = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
