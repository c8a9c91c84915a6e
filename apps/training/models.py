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


class Candidate(models.Model):
    """A base model the model owner considers for Play 2: where it loads from and how it weighs up."""

    project = models.ForeignKey("playbook.Project", on_delete=models.CASCADE, related_name="candidates")
    name = models.CharField(max_length=120)
    source = models.CharField(max_length=500, help_text="A local model directory, or a hub id (organisation/name).")
    licence = models.CharField(max_length=64, help_text="SPDX identifier, e.g. Apache-2.0.")
    # The model owner's verdict on whether the licence permits this project's use (the gate checks it).
    licence_permits = models.BooleanField()
    domain_rating = models.PositiveSmallIntegerField(help_text="Domain proximity, 1 (far) to 5 (same domain).")
    domain_note = models.TextField(blank=True)
    latency_budget_ms = models.FloatField()
    memory_budget_mb = models.FloatField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["project_id", "name"]
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="training_candidate_unique_name"),
            models.CheckConstraint(condition=Q(domain_rating__gte=1, domain_rating__lte=5),
                                   name="training_candidate_rating_1_5"),
            models.CheckConstraint(condition=Q(latency_budget_ms__gt=0, memory_budget_mb__gt=0),
                                   name="training_candidate_budgets_positive"),
        ]

    def __str__(self):
        return self.name


class Artifact(models.Model):
    """A file a job produced (feature cache, checkpoint, report), named by its content hash."""

    class Kind(models.TextChoices):
        FEATURE_CACHE = "feature_cache", "Feature cache"
        CHECKPOINT = "checkpoint", "Checkpoint"
        REPORT = "report", "Report"

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="artifacts")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    path = models.CharField(max_length=500)
    sha256 = models.CharField(max_length=64, db_index=True)
    size_bytes = models.BigIntegerField(default=0)
    label = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["job_id", "kind", "id"]
        constraints = [
            models.UniqueConstraint(fields=["job", "kind", "sha256"], name="training_artifact_unique_per_job"),
        ]
