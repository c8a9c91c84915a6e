from django.core.serializers.json import DjangoJSONEncoder
from django.db import models


class Evaluation(models.Model):
    """One evaluate job's report: every model scored on the same sealed test rows, the candidate against the
    reference, with the per-example predictions as a hashed artifact. Written only when the job succeeds;
    the sign-off record (HTML and PDF) is attached once the gate has decided."""

    project = models.ForeignKey("playbook.Project", on_delete=models.CASCADE, related_name="evaluations")
    play = models.ForeignKey("playbook.Play", on_delete=models.CASCADE, related_name="evaluations")
    job = models.OneToOneField("jobs.Job", on_delete=models.PROTECT, related_name="evaluation")
    # What was evaluated, on what: the candidate's training job and checkpoint, and the sealed test split.
    checkpoint_job = models.ForeignKey("jobs.Job", null=True, on_delete=models.PROTECT, related_name="+")
    checkpoint_sha256 = models.CharField(max_length=64)
    split_set = models.ForeignKey("datasets.SplitSet", on_delete=models.PROTECT, related_name="evaluations")
    test_split_sha256 = models.CharField(max_length=64)
    metric = models.CharField(max_length=32)
    direction = models.CharField(max_length=8)
    margin = models.FloatField()
    reference = models.CharField(max_length=64)
    verdict = models.CharField(max_length=64)
    temperature = models.FloatField(null=True)
    report = models.JSONField(encoder=DjangoJSONEncoder)
    predictions = models.ForeignKey("jobs.Artifact", on_delete=models.PROTECT, related_name="+")
    record_html = models.ForeignKey("jobs.Artifact", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    record_pdf = models.ForeignKey("jobs.Artifact", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    # The decision the record documents.
    record_decision = models.ForeignKey("playbook.GateDecision", null=True, blank=True, on_delete=models.PROTECT,
                                        related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"Evaluation #{self.pk} ({self.verdict})"
