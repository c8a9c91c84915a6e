from django.conf import settings
from django.db import models


class Dataset(models.Model):
    """An immutable, content-addressed set of labelled rows.

    The rows live in a canonical JSONL file under the artifacts folder named by their sha256; this row
    holds what pages and gates need without reading the file. A change makes a new Dataset (parent set).
    """

    class Kind(models.TextChoices):
        BASELINE_SAMPLE = "baseline_sample", "Labelled baseline sample"
        PRODUCTION_SAMPLE = "production_sample", "Production sample"

    project = models.ForeignKey("playbook.Project", on_delete=models.CASCADE, related_name="datasets")
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=32, choices=Kind.choices, default=Kind.BASELINE_SAMPLE)
    original_filename = models.CharField(max_length=255)
    sha256 = models.CharField(max_length=64, db_index=True)
    path = models.CharField(max_length=500, help_text="Relative to PLAYBOOK_DATA_DIR.")
    rows = models.PositiveIntegerField()
    text_column = models.CharField(max_length=200, default="text")
    label_column = models.CharField(max_length=200, default="label")
    labels = models.JSONField(default=list)
    # Rows that carry a label (a production sample's labels are optional).
    labelled_rows = models.PositiveIntegerField(default=0)
    label_counts = models.JSONField(default=dict)
    warnings = models.JSONField(default=list, blank=True)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="children")
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.name} ({self.rows} rows, {self.sha256[:12]})"

    @property
    def absolute_path(self):
        return settings.DATA_DIR / self.path

    def read_rows(self) -> list[dict]:
        import json

        with open(self.absolute_path, encoding="utf-8") as handle:
            return [json.loads(line) for line in handle if line.strip()]
