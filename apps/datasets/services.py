import os
import tempfile
from pathlib import Path

from django.conf import settings
from django.db import transaction

from apps.audit.services import audit_record
from apps.core.errors import Conflict, NotAllowed, ValidationFailed
from apps.datasets.ingest import parse_labelled_file
from apps.datasets.models import Dataset
from apps.playbook import policy
from apps.playbook.models import Project
from apps.playbook.policy import Action


def _store(canonical: bytes, sha256: str) -> tuple[str, bool]:
    """Write the canonical rows under their hash, atomically. Returns (relative path, newly created)."""
    relative = Path("artifacts") / "datasets" / f"{sha256}.jsonl"
    target = settings.DATA_DIR / relative
    if target.exists():
        return str(relative), False
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".upload-")
    with os.fdopen(fd, "wb") as handle:
        handle.write(canonical)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, target)
    return str(relative), True


def dataset_upload(*, actor, project: Project, upload, name: str = "", kind: str = Dataset.Kind.BASELINE_SAMPLE) -> Dataset:
    """Validate an uploaded labelled file and store it as a new immutable dataset.

    A bad file raises ValidationFailed naming the problem and the line; then nothing is stored (no row,
    no file)."""
    verdict = policy.check(actor, Action.DATASET_UPLOAD, project)
    if not verdict:
        raise NotAllowed(verdict.reason)
    if project.status != Project.Status.ACTIVE:
        raise Conflict("This project is closed.")
    if kind not in Dataset.Kind.values:
        raise ValidationFailed(f"kind must be one of: {', '.join(Dataset.Kind.values)}")
    if upload is None:
        raise ValidationFailed("No file was uploaded (send it as the multipart field 'file').")
    limit = settings.PLAYBOOK_UPLOAD_MAX_BYTES
    if upload.size is not None and upload.size > limit:
        raise ValidationFailed(f"The file is {upload.size:,} bytes; the limit is {limit:,} bytes.", {"limit": limit})
    raw = upload.read(limit + 1)
    parsed = parse_labelled_file(raw, upload.name or "upload", max_bytes=limit,
                                 max_rows=settings.PLAYBOOK_UPLOAD_MAX_ROWS)
    name = (name or "").strip() or Path(upload.name or "dataset").stem
    created_file = False
    try:
        with transaction.atomic(durable=True):
            relative, created_file = _store(parsed.canonical, parsed.sha256)
            dataset = Dataset.objects.create(
                project=project, name=name[:200], kind=kind, original_filename=(upload.name or "")[:255],
                sha256=parsed.sha256, path=relative, rows=len(parsed.rows), labels=parsed.labels,
                label_counts=parsed.label_counts, warnings=parsed.warnings, uploaded_by=actor,
            )
            audit_record(actor=actor, action="dataset.uploaded", project=project, obj=dataset,
                         after={"name": dataset.name, "kind": kind, "sha256": parsed.sha256,
                                "rows": dataset.rows, "labels": parsed.labels, "warnings": parsed.warnings})
    except Exception:
        if created_file:
            (settings.DATA_DIR / relative).unlink(missing_ok=True)
        raise
    return dataset
