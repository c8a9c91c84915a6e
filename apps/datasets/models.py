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
        from apps.core import storage

        return storage.absolute(self.path)

    def read_rows(self) -> list[dict]:
        import json

        with open(self.absolute_path, encoding="utf-8") as handle:
            return [json.loads(line) for line in handle if line.strip()]


class SplitSet(models.Model):
    """Train, validation and test splits of one dataset version, sealed: their rows never change.

    `leakage` holds the cross-split duplicate scan made at sealing; above the threshold the gate fails
    unless the data owner wrote `leakage_justification`.

    In a retrain cycle a seal extends the split set an earlier Play 3 approved instead of drawing new
    splits: every row it held keeps its split (its test and golden rows become the `golden` split), and
    only the rows added since are split, their test share becoming the new `test` slice. `lineage` records
    that: {"extends": split set id, "extends_dataset": id, "carried": {split: n}, "new": {split: n},
    "warnings": [...]}; empty for a first seal."""

    dataset = models.ForeignKey(Dataset, on_delete=models.PROTECT, related_name="split_sets")
    ratios = models.JSONField()
    seed = models.PositiveIntegerField()
    leakage = models.JSONField(default=dict)
    leakage_justification = models.TextField(blank=True)
    lineage = models.JSONField(default=dict, blank=True)
    sealed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    sealed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-sealed_at"]

    def __str__(self):
        return f"splits of {self.dataset} (seed {self.seed})"


class Split(models.Model):
    class Name(models.TextChoices):
        TRAIN = "train", "Train"
        VAL = "val", "Validation"
        TEST = "test", "Test"
        # A retrain cycle's earlier test rows, kept aside beside the new test slice: read like test.
        GOLDEN = "golden", "Golden (earlier test)"

    split_set = models.ForeignKey(SplitSet, on_delete=models.CASCADE, related_name="splits")
    name = models.CharField(max_length=8, choices=Name.choices)
    rows = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    path = models.CharField(max_length=500, help_text="Relative to PLAYBOOK_DATA_DIR.")
    label_counts = models.JSONField(default=dict)

    class Meta:
        # "test" < "train" < "val" alphabetically; the id keeps the order they were sealed in: train, val, test
        # (then golden, in a retrain cycle).
        ordering = ["split_set_id", "id"]
        constraints = [models.UniqueConstraint(fields=["split_set", "name"], name="datasets_split_unique_name")]


class SplitRead(models.Model):
    """A record of a job reading the test or golden split (only evaluation and packaging jobs may)."""

    split = models.ForeignKey(Split, on_delete=models.PROTECT, related_name="reads")
    job = models.ForeignKey("jobs.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    purpose = models.CharField(max_length=100)
    read_at = models.DateTimeField(auto_now_add=True)


class LabelAudit(models.Model):
    """A second person relabels a sample of a dataset blind; the results become Play 3 evidence."""

    class Status(models.TextChoices):
        PREPARING = "preparing", "Preparing the sample"
        OPEN = "open", "In progress"
        COMPLETE = "complete", "Complete"
        FAILED = "failed", "Sample preparation failed"
        CANCELLED = "cancelled", "Cancelled"

    dataset = models.ForeignKey(Dataset, on_delete=models.PROTECT, related_name="audits")
    auditor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="label_audits")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    size = models.PositiveIntegerField()
    seed = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    results = models.JSONField(default=dict, blank=True)
    message = models.TextField(blank=True)  # why preparing the sample failed
    created_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    @property
    def project(self):
        return self.dataset.project



class LabelAuditItem(models.Model):
    class Part(models.TextChoices):
        RANDOM = "random", "Uniform random"
        FLAGGED = "flagged", "Ranked by likely label error"

    class Resolution(models.TextChoices):
        ACCEPTED = "accepted", "Auditor's label accepted"
        KEPT = "kept", "Original label kept"

    audit = models.ForeignKey(LabelAudit, on_delete=models.CASCADE, related_name="items")
    position = models.PositiveIntegerField()
    row_index = models.PositiveIntegerField()
    part = models.CharField(max_length=8, choices=Part.choices)
    original_label = models.CharField(max_length=200)
    answer = models.CharField(max_length=200, blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)
    resolution = models.CharField(max_length=8, choices=Resolution.choices, blank=True)
    resolution_note = models.TextField(blank=True)

    class Meta:
        ordering = ["audit_id", "position"]
        constraints = [
            models.UniqueConstraint(fields=["audit", "position"], name="datasets_audit_item_unique_position"),
            models.UniqueConstraint(fields=["audit", "row_index"], name="datasets_audit_item_unique_row"),
        ]


class ResemblanceReport(models.Model):
    """How a production sample compares with a sealed test split (is the test set like production?)."""

    split = models.ForeignKey(Split, on_delete=models.PROTECT, related_name="resemblance_reports")
    production = models.ForeignKey(Dataset, on_delete=models.PROTECT, related_name="resemblance_reports")
    stats = models.JSONField(default=dict)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
