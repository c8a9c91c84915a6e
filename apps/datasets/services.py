import os
from pathlib import Path

from django.conf import settings
from django.db import transaction

from apps.audit.services import audit_record
from apps.core import storage
from apps.core.errors import Conflict, NotAllowed, ValidationFailed
from apps.datasets.ingest import Ingested, Options, ingest
from apps.datasets.models import Dataset
from apps.playbook import policy
from apps.playbook.models import Project
from apps.playbook.policy import Action



def store_canonical(tmp: Path, sha256: str) -> tuple[str, bool]:
    """Move a canonical temporary file to its content address. Returns (relative path, newly created)."""
    return storage.write_content_addressed(storage.DATASETS, sha256, suffix=".jsonl", tmp_path=tmp)


def dataset_upload(*, actor, project: Project, upload, name: str = "", kind: str = Dataset.Kind.BASELINE_SAMPLE,
                   text_column: str = "text", label_column: str = "label", parent: Dataset | None = None) -> Dataset:
    """Validate an uploaded file (CSV, JSONL or Parquet) as a stream and store it as a new immutable dataset.

    A bad file raises ValidationFailed naming the problem and the line; then nothing is stored (no row, no
    file). A production sample's labels are optional; every other kind needs a label on every row."""
    verdict = policy.check(actor, Action.DATASET_UPLOAD, project)
    if not verdict:
        raise NotAllowed(verdict.reason)
    if project.status != Project.Status.ACTIVE:
        raise Conflict("This project is closed.")
    if kind not in Dataset.Kind.values:
        raise ValidationFailed(f"kind must be one of: {', '.join(Dataset.Kind.values)}")
    if upload is None:
        raise ValidationFailed("No file was uploaded (send it as the multipart field 'file').")
    text_column, label_column = (text_column or "text").strip(), (label_column or "label").strip()
    if text_column == label_column:
        raise ValidationFailed("The text and label columns must be different columns.")
    options = Options(text_column=text_column, label_column=label_column,
                      require_labels=kind != Dataset.Kind.PRODUCTION_SAMPLE,
                      max_rows=settings.PLAYBOOK_UPLOAD_MAX_ROWS, min_class_rows=settings.PLAYBOOK_MIN_CLASS_ROWS)
    if parent is not None and (parent.project_id != project.pk or parent.kind != kind):
        raise ValidationFailed("A new version extends a dataset of the same project and kind.")
    upload.seek(0)
    ingested = ingest(upload.file, filename=upload.name or "upload", size=upload.size,
                      max_bytes=settings.PLAYBOOK_UPLOAD_MAX_BYTES, dest_dir=storage.absolute(storage.DATASETS),
                      options=options)
    if parent is not None:
        ingested = _appended(parent, ingested)
    name = (name or "").strip() or (f"{parent.name} + {upload.name}" if parent else Path(upload.name or "dataset").stem)
    return _dataset_create(actor=actor, project=project, ingested=ingested, name=name, kind=kind,
                           original_filename=upload.name or "", parent=parent,
                           columns={"text_column": text_column, "label_column": label_column})


def _appended(parent: Dataset, added: Ingested) -> Ingested:
    """The parent's rows followed by the uploaded ones, as one canonical file: the new version's content."""
    import hashlib
    import tempfile

    digest, counts = hashlib.sha256(), dict(parent.label_counts)
    fd, name = tempfile.mkstemp(dir=added.path.parent, prefix=".append-", suffix=".jsonl")
    try:
        with os.fdopen(fd, "wb") as out:
            for source in (parent.absolute_path, added.path):
                with open(source, "rb") as handle:
                    for line in handle:
                        digest.update(line)
                        out.write(line)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
    finally:
        added.path.unlink(missing_ok=True)
    for label, n in added.label_counts.items():
        counts[label] = counts.get(label, 0) + n
    return Ingested(path=Path(name), sha256=digest.hexdigest(), rows=parent.rows + added.rows, labels=sorted(counts),
                    label_counts=dict(sorted(counts.items())), labelled_rows=parent.labelled_rows + added.labelled_rows,
                    warnings=added.warnings)


def _dataset_create(*, actor, project, ingested, name, kind, original_filename, parent, columns,
                    action: str = "dataset.uploaded", extra: dict | None = None) -> Dataset:
    created_file = False
    relative = ""
    try:
        with transaction.atomic(durable=True):
            relative, created_file = store_canonical(ingested.path, ingested.sha256)
            dataset = Dataset.objects.create(
                project=project, name=name[:200], kind=kind, original_filename=original_filename[:255],
                sha256=ingested.sha256, path=relative, rows=ingested.rows, labels=ingested.labels,
                label_counts=ingested.label_counts, labelled_rows=ingested.labelled_rows,
                warnings=ingested.warnings, uploaded_by=actor, parent=parent, **columns,
            )
            audit_record(actor=actor, action=action, project=project, obj=dataset,
                         after={"name": dataset.name, "kind": kind, "sha256": ingested.sha256, "rows": dataset.rows,
                                "labels": ingested.labels, "warnings": ingested.warnings,
                                "parent": parent.pk if parent else None, **(extra or {})})
    except BaseException:
        ingested.path.unlink(missing_ok=True)
        if created_file:
            storage.absolute(relative).unlink(missing_ok=True)
        raise
    return dataset
