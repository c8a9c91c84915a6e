"""Jobs: units of work for the Celery workers, their metric points and the files they produce.

A job belongs to a project and, usually, to the play whose work it is; the system (beat, a gate approval)
may start one with nobody as `created_by`. Kinds are registered by the play modules (apps.core.registry),
so this app names none of them.
"""
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import Q


class Job(models.Model):
    """A unit of work for a Celery worker; its state is the truth the pages and the API show."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    ACTIVE = (Status.QUEUED, Status.RUNNING)
    FINISHED = (Status.SUCCEEDED, Status.FAILED, Status.CANCELLED)

    project = models.ForeignKey("playbook.Project", on_delete=models.CASCADE, related_name="jobs")
    # The play whose work this is; null for work on a project-level subject (a dataset, a deployment).
    play = models.ForeignKey("playbook.Play", null=True, blank=True, on_delete=models.CASCADE, related_name="jobs")
    kind = models.CharField(max_length=32)
    # What the job works on, when that is not the play itself ("dataset", 12): shown on pages and in the
    # audit trail, and used to refuse a second active job on the same subject.
    subject_type = models.CharField(max_length=32, blank=True)
    subject_id = models.CharField(max_length=64, blank=True)
    queue = models.CharField(max_length=16, default="default")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    params = models.JSONField(default=dict, encoder=DjangoJSONEncoder)
    progress = models.FloatField(default=0.0)
    message = models.CharField(max_length=300, blank=True)
    result = models.JSONField(null=True, blank=True, encoder=DjangoJSONEncoder)
    error = models.TextField(blank=True)
    cancel_requested = models.BooleanField(default=False)
    worker_host = models.CharField(max_length=200, blank=True)
    device = models.CharField(max_length=200, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    # Messages handed to the broker for this job, and when the last one was: a job still queued long after
    # its last send (a broker that was down or restarted, a message lost) is sent again by the queue sweep
    # (apps.jobs.services.jobs_resend_queued). Zero sends: the broker refused the first one.
    send_count = models.PositiveSmallIntegerField(default=0)
    sent_at = models.DateTimeField(null=True, blank=True)
    # Null when the system started the job (beat, a gate approval).
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "training_job"  # the table predates this app; moving it would gain nothing
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(progress__gte=0, progress__lte=1), name="training_job_progress_0_1"),
        ]
        indexes = [
            # The stale-heartbeat sweep and "my running jobs" look only at unfinished jobs.
            models.Index(fields=["status", "heartbeat_at"], condition=Q(status__in=["queued", "running"]),
                         name="training_job_active"),
        ]

    def __str__(self):
        return f"Job #{self.pk} {self.kind} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED

    @property
    def started_by_system(self) -> bool:
        return self.created_by_id is None

    def get_kind_display(self) -> str:
        from apps.core.registry import job_kind_label

        return job_kind_label(self.kind)


class MetricPoint(models.Model):
    """One reported number; upserted on (job, step, split, name) so a redelivered report never duplicates."""

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="metrics")
    step = models.IntegerField()
    split = models.CharField(max_length=16, default="train")
    name = models.CharField(max_length=64)
    value = models.FloatField()
    recorded_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "training_metricpoint"
        ordering = ["job_id", "step", "name"]
        constraints = [
            models.UniqueConstraint(fields=["job", "step", "split", "name"], name="training_metric_unique_point"),
        ]


class Artifact(models.Model):
    """A file a job produced (feature cache, checkpoint, split, report), named by its content hash.

    Hashed once when written (apps.core.storage); verified when used, never hashed to render a page."""

    class Kind(models.TextChoices):
        FEATURE_CACHE = "feature_cache", "Feature cache"
        CHECKPOINT = "checkpoint", "Checkpoint"
        REPORT = "report", "Report"
        PREDICTIONS = "predictions", "Per-example predictions"
        SIGNOFF_RECORD = "signoff_record", "Sign-off record"

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="artifacts")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    path = models.CharField(max_length=500)
    sha256 = models.CharField(max_length=64, db_index=True)
    size_bytes = models.BigIntegerField(default=0)
    label = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "training_artifact"
        ordering = ["job_id", "kind", "id"]
        constraints = [
            models.UniqueConstraint(fields=["job", "kind", "sha256"], name="training_artifact_unique_per_job"),
        ]
