from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import Q


class Job(models.Model):
    """A unit of work for a Celery worker; its state is the truth the pages and the API show."""

    class Kind(models.TextChoices):
        BASELINE = "baseline", "Baseline"
        BAKEOFF = "bakeoff", "Base-model bake-off"
        FROZEN_HEAD = "frozen_head", "Frozen-base head"
        UNFREEZE = "unfreeze", "Progressive unfreeze"
        EVALUATE = "evaluate", "Evaluation"
        DRIFT_CHECK = "drift_check", "Drift check"
        RETRAIN = "retrain", "Retrain"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    ACTIVE = (Status.QUEUED, Status.RUNNING)
    FINISHED = (Status.SUCCEEDED, Status.FAILED, Status.CANCELLED)
    # Training kinds go to the "gpu" queue; everything light to "default".
    GPU_KINDS = (Kind.BAKEOFF, Kind.FROZEN_HEAD, Kind.UNFREEZE, Kind.RETRAIN, Kind.EVALUATE)

    project = models.ForeignKey("playbook.Project", on_delete=models.CASCADE, related_name="jobs")
    play = models.ForeignKey("playbook.Play", on_delete=models.CASCADE, related_name="jobs")
    kind = models.CharField(max_length=16, choices=Kind.choices)
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
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
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
    def queue(self) -> str:
        return "gpu" if self.kind in self.GPU_KINDS else "default"


class MetricPoint(models.Model):
    """One reported number; upserted on (job, step, split, name) so a redelivered report never duplicates."""

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="metrics")
    step = models.IntegerField()
    split = models.CharField(max_length=16, default="train")
    name = models.CharField(max_length=64)
    value = models.FloatField()
    recorded_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["job_id", "step", "name"]
        constraints = [
            models.UniqueConstraint(fields=["job", "step", "split", "name"], name="training_metric_unique_point"),
        ]
