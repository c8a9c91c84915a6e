from django.conf import settings
from django.db import models
from django.db.models import Q


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
