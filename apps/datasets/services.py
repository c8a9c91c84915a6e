import logging
import os
from pathlib import Path

from django.conf import settings
from django.db import transaction

from apps.audit.services import audit_chain_lock, audit_record
from apps.core import storage
from apps.core.errors import Conflict, NotAllowed, ValidationFailed
from apps.datasets.ingest import Ingested, Options, ingest
from apps.datasets.models import Dataset
from apps.playbook import policy
from apps.playbook.models import Project
from apps.playbook.policy import Action

logger = logging.getLogger(__name__)



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
    with storage.space_errors():  # a full data folder: a clear refusal; ingest removed its temporary file
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
            # The chain lock before the file: whether the content's file already exists and the row that
            # refers to it commit as one step against the cleanup below (which takes the same lock).
            audit_chain_lock()
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
            try:
                _remove_unreferenced(relative)
            except Exception:  # the database is unreachable: an orphan file is better than a lost one
                logger.warning("left %s in place: could not check whether a dataset refers to it", relative)
        raise
    return dataset


def _remove_unreferenced(relative: str) -> None:
    """Remove a content-addressed file this call created, unless a committed dataset now refers to it: an
    upload of the same bytes may have found the file in place and committed while this one failed."""
    with transaction.atomic():
        audit_chain_lock()
        if not Dataset.objects.filter(path=relative).exists():
            storage.absolute(relative).unlink(missing_ok=True)


def dataset_append_rows(*, actor, parent: Dataset, rows: list[dict], name: str = "", source: str = "",
                        extra: dict | None = None) -> Dataset:
    """Append labelled rows ({"text", "label", "meta"?}) to ``parent`` as its new version (parent set), as
    an upload of them would: the parent's rows followed by these, one canonical file, one audited row.

    For the project's data curators (the data owner). Rows need a non-empty text and label (meta, if any,
    a flat object of short strings); a text the parent already holds, or one given twice, is refused, since
    the caller decides which rows are new. Bad rows raise ValidationFailed naming the first, and the same
    rows added to the same parent before raise Conflict naming that version; either way nothing is stored. ``source`` says where the rows came from (kept as the version's original filename and in the
    audit event)."""
    import hashlib
    import json

    from apps.datasets.ingest import MAX_EXTRA_VALUE

    verdict = policy.check(actor, Action.DATA_CURATE, parent.project)
    if not verdict:
        raise NotAllowed(verdict.reason)
    if parent.project.status != Project.Status.ACTIVE:
        raise Conflict("This project is closed.")
    if parent.kind == Dataset.Kind.PRODUCTION_SAMPLE or parent.labelled_rows < parent.rows:
        raise ValidationFailed("Rows are appended to a labelled dataset version, not to a production sample.")
    if not isinstance(rows, list) or not rows:
        raise ValidationFailed("No rows to add: a new version needs at least one labelled row.")
    known = {r["text"] for r in parent.read_rows()}
    lines, counts = [], {}
    for number, row in enumerate(rows, start=1):
        text, label = (row.get("text"), row.get("label")) if isinstance(row, dict) else (None, None)
        if not isinstance(text, str) or not text.strip():
            raise ValidationFailed(f"Row {number}: the text is empty.")
        if not isinstance(label, str) or not label.strip():
            raise ValidationFailed(f"Row {number}: the label is empty.")
        if text in known:
            raise ValidationFailed(f"Row {number}: the text is already in dataset #{parent.pk} (or given twice).")
        meta = row.get("meta") or {}
        if not isinstance(meta, dict) or any(not isinstance(v, str) or len(v) > MAX_EXTRA_VALUE for v in meta.values()):
            raise ValidationFailed(f"Row {number}: meta must be an object of short texts.")
        known.add(text)
        record = {"text": text, "label": label.strip(), **({"meta": {str(k)[:64]: v for k, v in meta.items()}}
                                                             if meta else {})}
        lines.append((json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n").encode())
        counts[record["label"]] = counts.get(record["label"], 0) + 1
    payload = b"".join(lines)
    fd, tmp = storage.incoming_file(storage.DATASETS)
    with os.fdopen(fd, "wb") as handle:
        handle.write(payload)
    added = Ingested(path=Path(tmp), sha256=hashlib.sha256(payload).hexdigest(), rows=len(lines),
                     labels=sorted(counts), label_counts=dict(sorted(counts.items())), labelled_rows=len(lines))
    ingested = _appended(parent, added)
    same = Dataset.objects.filter(project=parent.project, parent=parent, sha256=ingested.sha256).first()
    if same is not None:
        ingested.path.unlink(missing_ok=True)
        raise Conflict(f"Dataset #{same.pk} already adds exactly these rows to dataset #{parent.pk}: choose it "
                       "in Play 3 instead.")
    name = (name or "").strip() or f"{parent.name} + {len(lines)} rows"
    return _dataset_create(actor=actor, project=parent.project, ingested=ingested, name=name, kind=parent.kind,
                           original_filename=source or "appended rows", parent=parent,
                           columns={"text_column": parent.text_column, "label_column": parent.label_column},
                           action="dataset.rows_appended",
                           extra={"source": source, "added_rows": len(lines), **(extra or {})})
