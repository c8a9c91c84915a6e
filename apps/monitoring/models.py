from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import Q


class Package(models.Model):
    """What a package job built from a Play 5 approval: the model in standard formats (or the shipped
    baseline), its ONNX variants with their parity report, the model card, the monitoring reference and the
    lineage, every file in a hashed manifest. Written only when the job succeeds."""

    class Shipped(models.TextChoices):
        CANDIDATE = "candidate", "The approved candidate"
        BASELINE = "baseline", "The baseline"

    project = models.ForeignKey("playbook.Project", on_delete=models.CASCADE, related_name="packages")
    play = models.ForeignKey("playbook.Play", on_delete=models.CASCADE, related_name="packages")
    job = models.OneToOneField("jobs.Job", on_delete=models.PROTECT, related_name="package")
    evaluation = models.ForeignKey("evaluation.Evaluation", on_delete=models.PROTECT, related_name="packages")
    shipped = models.CharField(max_length=16, choices=Shipped.choices)
    model_name = models.CharField(max_length=64)  # the evaluation's name for it ("candidate", "tfidf_logreg")
    path = models.CharField(max_length=500)  # the package folder (relative to the data folder)
    sha256 = models.CharField(max_length=64, db_index=True)  # of its canonical manifest
    size_bytes = models.BigIntegerField(default=0)
    label_names = models.JSONField(default=list)
    temperature = models.FloatField(null=True)
    parity = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)
    manifest = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"Package #{self.pk} ({self.model_name})"


class Deployment(models.Model):
    """A package put to work: as the challenger beside production, or as production itself. At most one
    production deployment per project; stages change only through services, each change audited."""

    class Stage(models.TextChoices):
        CHALLENGER = "challenger", "Challenger"
        PRODUCTION = "production", "Production"
        RETIRED = "retired", "Retired"

    project = models.ForeignKey("playbook.Project", on_delete=models.CASCADE, related_name="deployments")
    package = models.ForeignKey(Package, on_delete=models.PROTECT, related_name="deployments")
    stage = models.CharField(max_length=16, choices=Stage.choices)
    # The deployment this one replaced in production (a rollback returns to it).
    replaced = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # None: the system deployed it, on the authority of a Play 5 approval (its StageChange names the decision).
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["project"], condition=Q(stage="production"),
                                    name="monitoring_one_production_per_project"),
        ]

    def __str__(self):
        return f"Deployment #{self.pk} ({self.stage})"


class StageChange(models.Model):
    """One line of a deployment's history: deployed, promoted, rolled back, retired."""

    deployment = models.ForeignKey(Deployment, on_delete=models.CASCADE, related_name="history")
    from_stage = models.CharField(max_length=16, blank=True)
    to_stage = models.CharField(max_length=16)
    action = models.CharField(max_length=16)  # deploy, promote, rollback, retire
    reason = models.TextField(blank=True)
    # None: the system made the change, on the authority of `decision` (a sign-off owner's Play 5 approval).
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    decision = models.ForeignKey("playbook.GateDecision", null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="+")
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["deployment_id", "at", "id"]

    @property
    def by(self) -> str:
        """Who made the change, in words: the person, or the system and whose approval it acted on."""
        if self.actor_id is not None:
            return self.actor.get_username()
        if self.decision_id is not None:
            return f"the system, on {self.decision.decided_by.get_username()}'s Play 5 approval (decision #{self.decision_id})"
        return "the system"


class PredictionLog(models.Model):
    """One production prediction: served by our predict endpoint, or ingested from a model served elsewhere.
    Idempotent by the client's id within a deployment."""

    class Source(models.TextChoices):
        SERVED = "served", "Served by Playbook"
        INGESTED = "ingested", "Ingested"

    deployment = models.ForeignKey(Deployment, on_delete=models.CASCADE, related_name="predictions")
    external_id = models.CharField(max_length=128)
    text = models.TextField()
    label = models.CharField(max_length=200)
    probabilities = models.JSONField(default=list)
    latency_ms = models.FloatField(null=True, blank=True)
    source = models.CharField(max_length=16, choices=Source.choices)
    at = models.DateTimeField(db_index=True)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["deployment_id", "at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["deployment", "external_id"], name="monitoring_prediction_unique_id"),
        ]
        indexes = [models.Index(fields=["deployment", "received_at"], name="monitoring_prediction_received")]


class Feedback(models.Model):
    """The true label of a logged prediction, arriving late. Idempotent by the prediction's id."""

    deployment = models.ForeignKey(Deployment, on_delete=models.CASCADE, related_name="feedback")
    external_id = models.CharField(max_length=128)
    label = models.CharField(max_length=200)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["deployment_id", "received_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["deployment", "external_id"], name="monitoring_feedback_unique_id"),
        ]


class ClientToken(models.Model):
    """An API token for a client system, scoped to one deployment's prediction endpoints (predict, log
    predictions, send feedback) and nothing else. Only its hash is stored; the key is shown once."""

    deployment = models.ForeignKey(Deployment, on_delete=models.CASCADE, related_name="client_tokens")
    name = models.CharField(max_length=120)
    prefix = models.CharField(max_length=12, db_index=True)
    key_sha256 = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]


class MonitoringWindow(models.Model):
    """One window of a deployment's production predictions, judged by a drift_check job against the
    reference the model was approved on: every signal, what breached, and what the alert policy decided."""

    deployment = models.ForeignKey(Deployment, on_delete=models.CASCADE, related_name="windows")
    index = models.PositiveIntegerField()
    job = models.OneToOneField("jobs.Job", on_delete=models.PROTECT, related_name="monitoring_window")
    first_at = models.DateTimeField()
    last_at = models.DateTimeField()
    last_prediction = models.BigIntegerField()  # the newest PredictionLog id the window holds
    rows = models.PositiveIntegerField()
    labelled = models.PositiveIntegerField(default=0)
    judged = models.BooleanField(default=False)
    result = models.JSONField(default=dict, encoder=DjangoJSONEncoder)  # drift_check's output
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["deployment_id", "index"]
        constraints = [
            models.UniqueConstraint(fields=["deployment", "index"], name="monitoring_window_unique_index"),
        ]


class Alert(models.Model):
    """An alert the policy fired on a window: drift (for the data owner to investigate) or a breach of the
    performance floor, which is a retrain trigger (the cycle it opened is linked)."""

    deployment = models.ForeignKey(Deployment, on_delete=models.CASCADE, related_name="alerts")
    window = models.ForeignKey(MonitoringWindow, on_delete=models.CASCADE, related_name="alerts")
    signal = models.CharField(max_length=32)
    audience = models.CharField(max_length=32)
    reason = models.TextField()
    retrain = models.BooleanField(default=False)
    cycle = models.ForeignKey("playbook.Cycle", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
