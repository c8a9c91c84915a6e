"""Play 3's data work: sealing splits, the blind label audit by a second person, resolving its
disagreements into a new dataset version, and comparing the test split with a production sample.

Every function here is a service: it checks the actor's role through the policy, writes in one
transaction and appends its audit event there.
"""
import json
import os
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from apps.accounts.models import Membership
from apps.audit.services import audit_chain_lock, audit_record
from apps.core import storage
from apps.core.errors import Conflict, FieldErrors, NotAllowed, ValidationFailed
from apps.datasets.ingest import Ingested
from apps.datasets.models import Dataset, LabelAudit, LabelAuditItem, ResemblanceReport, Split, SplitRead, SplitSet
from apps.datasets.services import _dataset_create, dataset_upload
from apps.playbook import policy
from apps.playbook.policy import Action

User = get_user_model()


def _require_curator(actor, dataset: Dataset) -> None:
    verdict = policy.check(actor, Action.DATA_CURATE, dataset.project)
    if not verdict:
        raise NotAllowed(verdict.reason)
    if dataset.project.status != dataset.project.Status.ACTIVE:
        raise Conflict("This project is closed.")


def _labelled(dataset: Dataset) -> None:
    if dataset.kind == Dataset.Kind.PRODUCTION_SAMPLE or dataset.labelled_rows < dataset.rows:
        raise ValidationFailed("This needs a labelled dataset (every row labelled), not a production sample.")


# --- sealed splits ----------------------------------------------------------------------------------


SPLIT_NAMES = {"train": "training", "val": "validation", "test": "test"}


def _ratio(value, name: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValidationFailed(f"Give the {SPLIT_NAMES[name]} share as a number such as 0.7.") from None
    return number


def seal_params(dataset: Dataset, params: dict) -> dict:
    """The seal job's parameter check: shares that split this dataset (tried on its labels, so a split a
    class is too small for is refused now, not by a failed job) and a seed.

    When the dataset is (or descends from) the dataset of the split set an approved Play 3 handed on (a
    retrain cycle), the seal extends that split set instead (see seal_run): ``extends`` names it, and only
    the rows added since are split, so only they are tried here."""
    from workers.engine.splits import extend_split, stratified_split

    _labelled(dataset)
    if unknown := sorted(set(params) - {"train", "val", "test", "seed"}):
        raise ValidationFailed(f"A seal does not take the setting(s) {', '.join(unknown)}; "
                               "it takes: train, val, test, seed.")
    errors, ratios = FieldErrors(), {}
    for name in ("train", "val", "test"):
        with errors.on(name):
            ratios[name] = _ratio(params.get(name), name)
    seed = params.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**31:
        errors.add("seed", "Give the random seed as a whole number from 0 to 2,147,483,647.")
    errors.raise_if_any()
    rows = dataset.read_rows()
    previous = extended_split_set(dataset)
    try:
        if previous is None:
            stratified_split([r["text"] for r in rows], [r["label"] for r in rows], seed=seed, **ratios)
        else:
            extend_split(_split_texts(previous), [r["text"] for r in rows], [r["label"] for r in rows], seed=seed,
                         **ratios)
    except ValueError as exc:
        if previous is not None:
            raise ValidationFailed(
                f"This dataset extends split set #{previous.pk}, which an approved Play 3 handed on: its rows keep "
                f"their splits and only the new rows are split, but {exc}. Add newly labelled data (the labelled "
                "production data, say) first.") from None
        raise ValidationFailed(str(exc)) from None
    return {**ratios, "seed": seed, **({"extends": previous.pk} if previous is not None else {})}


def extended_split_set(dataset: Dataset) -> SplitSet | None:
    """The split set a seal of ``dataset`` must keep fixed: the one the newest approved Play 3 of the
    project handed on (cycle_inputs of the current cycle: in a retrain cycle, the previous cycle's), when
    ``dataset`` is that split set's dataset or descends from it (parent links). None otherwise: a first
    seal, or a dataset unrelated to the approved one, is split afresh."""
    from apps.playbook.selectors import current_cycle, cycle_inputs

    cycle = current_cycle(dataset.project)
    handed = cycle_inputs(cycle).get(3) if cycle else None
    if handed is None:
        return None
    previous = SplitSet.objects.filter(pk=handed.split_set, dataset__project_id=dataset.project_id).first()
    if previous is None:
        return None
    node, seen = dataset, set()
    while node is not None and node.pk not in seen:
        if node.pk == previous.dataset_id:
            return previous
        seen.add(node.pk)
        node = node.parent
    return None


def _split_texts(split_set: SplitSet) -> dict[str, list[str]]:
    """Each split's texts, for fixing their places in an extended seal. Only the texts are compared, inside
    the seal job (which hands no row to anyone); this is not an evaluation read, so it is not a SplitRead."""
    texts = {}
    for split in split_set.splits.all():
        with open(storage.absolute(split.path), encoding="utf-8") as handle:
            texts[split.name] = [json.loads(line)["text"] for line in handle if line.strip()]
    return texts


def dataset_seal(*, actor, dataset: Dataset, train, val, test, seed):
    """Start sealing a labelled dataset version into stratified train/val/test splits (a ``seal`` job:
    split deterministically for the same version, ratios and seed, store each split under its sha256, scan
    the splits for leakage, and seal). Bad shares are refused here and nothing is queued. Returns the job;
    the split set appears when it succeeds."""
    from apps.jobs.services import job_enqueue

    _require_curator(actor, dataset)
    with transaction.atomic(durable=True):
        return job_enqueue("seal", dataset, {"train": train, "val": val, "test": test, "seed": seed},
                           requested_by=actor, play=_play3_of(dataset))


def _play3_of(dataset: Dataset):
    """The current cycle's Play 3 of the dataset's project: its page shows the dataset's jobs."""
    from apps.playbook.selectors import current_cycle

    cycle = current_cycle(dataset.project)
    return cycle.plays.filter(number=3).first() if cycle else None


def seal_run(job, report):
    """Worker side of dataset_seal: split, store the splits, scan for leakage; the split set and its audit
    event are written when the job succeeds, in the same transaction.

    With ``extends`` (a retrain cycle, see seal_params) nothing is reshuffled: the earlier split set's rows
    keep their splits, its test and golden rows become ``golden``, and only the new rows are split (their
    test share is the new ``test`` slice); the leakage scan covers all four splits."""
    from apps.jobs.kinds import JobOutcome
    from workers.engine.leakage import scan_leakage
    from workers.engine.splits import canonical_jsonl, extend_split, split_sha256, stratified_split

    dataset = Dataset.objects.select_related("project").get(pk=int(job.subject_id))
    p = job.params
    ratios = {name: p[name] for name in ("train", "val", "test")}
    rows = dataset.read_rows()
    report(0, {"rows": len(rows)}, 0.05, "Splitting")
    texts, labels = [r["text"] for r in rows], [r["label"] for r in rows]
    lineage = {}
    if p.get("extends"):
        previous = SplitSet.objects.get(pk=p["extends"])
        indices, kept = extend_split(_split_texts(previous), texts, labels, seed=p["seed"], **ratios)
        lineage = {"extends": previous.pk, "extends_dataset": previous.dataset_id, **kept}
    else:
        indices = stratified_split(texts, labels, seed=p["seed"], **ratios)
    parts = {name: [rows[i] for i in idx] for name, idx in indices.items()}
    if lineage and not parts.get(Split.Name.GOLDEN):
        parts.pop(Split.Name.GOLDEN, None)  # the earlier split set had no test rows left to keep aside
    stored = {}
    for name, part in parts.items():
        sha = split_sha256(part)
        path, _ = storage.write_content_addressed(storage.SPLITS, sha, suffix=".jsonl", data=canonical_jsonl(part))
        counts: dict[str, int] = {}
        for r in part:
            counts[r["label"]] = counts.get(r["label"], 0) + 1
        stored[name] = {"rows": len(part), "sha256": sha, "path": path, "label_counts": dict(sorted(counts.items()))}
    report(1, {}, 0.3, "Scanning the splits for leakage")
    leakage = scan_leakage({name: [r["text"] for r in part] for name, part in parts.items()})
    report(2, {"leakage_rate": leakage.get("rate") or 0.0}, 1.0, "Sealed")
    summary = {name: {"rows": info["rows"], "sha256": info["sha256"]} for name, info in stored.items()}

    def record(job):
        split_set = SplitSet.objects.create(dataset=dataset, ratios=ratios, seed=p["seed"], leakage=leakage,
                                            lineage=lineage, sealed_by=job.created_by)
        for name, info in stored.items():
            Split.objects.create(split_set=split_set, name=name, rows=info["rows"], sha256=info["sha256"],
                                 path=info["path"], label_counts=info["label_counts"])
        audit_record(actor=job.created_by or "system", action="dataset.sealed", project=dataset.project,
                     obj=split_set, after={"dataset": dataset.pk, "dataset_sha256": dataset.sha256, "ratios": ratios,
                                           "seed": p["seed"], "splits": summary, "leakage_rate": leakage.get("rate"),
                                           "job": job.pk, **({"lineage": lineage} if lineage else {})})
        job.result = {**job.result, "split_set": split_set.pk}
        job.save(update_fields=["result"])

    return JobOutcome({"dataset": dataset.pk, "splits": summary, "leakage": leakage,
                       **({"lineage": lineage} if lineage else {})}, record=record)


TEST_READERS = ("evaluate", "package")
HELD_OUT = (Split.Name.TEST, Split.Name.GOLDEN)


def split_rows(split: Split, *, job=None, purpose: str) -> list[dict]:
    """The rows of a sealed split. The test split, and the golden split a retrain cycle keeps beside it,
    are for the jobs that come after the candidate is chosen (Play 5's evaluation; Play 6's packaging,
    which checks the exported model's parity on it) and never for training or model selection; every read
    of them is recorded (with its audit event) before the rows are handed out."""
    if split.name in HELD_OUT:
        if job is None or job.kind not in TEST_READERS:
            raise NotAllowed(f"Only evaluation and packaging jobs may read the {split.name} split.")
        with transaction.atomic():
            SplitRead.objects.create(split=split, job=job, purpose=purpose[:100])
            audit_record(actor="worker", action=f"split.{split.name}_read", project=split.split_set.dataset.project,
                         obj=split, after={"job": job.pk, "purpose": purpose, "sha256": split.sha256})
    with open(storage.absolute(split.path), encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


# --- label audit ------------------------------------------------------------------------------------


def label_audit_start(*, actor, dataset: Dataset, size, auditor: str, seed: int = 0) -> LabelAudit:
    """Hand an audit of ``dataset`` to a second person, who must be a project member other than whoever
    uploaded the labels. The sample (a uniform random part and a part ranked by likely label error from
    out-of-fold TF-IDF probabilities) takes a worker seconds to minutes on a large dataset, so the audit
    starts as "preparing" and a ``prepare_audit`` job fills it in."""
    _require_curator(actor, dataset)
    _labelled(dataset)
    try:
        size = int(size)
    except (TypeError, ValueError):
        size = None
    if size is None or not 10 <= size <= 2000:
        message = "Give the sample size as a whole number of items from 10 to 2,000."
        raise ValidationFailed(message, fields={"size": message})
    person = _auditor_for(dataset, auditor)
    with transaction.atomic(durable=True):
        audit_chain_lock()  # before the row locks: see _unanswered_audit
        Dataset.objects.select_for_update().get(pk=dataset.pk)  # one start at a time per dataset
        _fail_stalled_preparations(dataset)
        if LabelAudit.objects.filter(dataset=dataset, status__in=[LabelAudit.Status.OPEN,
                                                                  LabelAudit.Status.PREPARING]).exists():
            raise Conflict("An audit of this dataset is already in progress.")
        audit = LabelAudit.objects.create(dataset=dataset, auditor=person, requested_by=actor,
                                          size=min(size, dataset.rows), seed=seed,
                                          status=LabelAudit.Status.PREPARING)
        audit_record(actor=actor, action="label_audit.started", project=dataset.project, obj=audit,
                     after={"dataset": dataset.pk, "auditor": auditor, "size": audit.size, "seed": seed})
        from apps.jobs.services import job_enqueue

        # Picking the sample ranks every row out of fold: a job, with its progress on the Play 3 page.
        job_enqueue("prepare_audit", audit, {}, requested_by=actor, play=_play3_of(dataset))
    return audit


def _auditor_for(dataset: Dataset, auditor) -> "User":
    """The member who may audit ``dataset``'s labels: active, a member of its project, not the uploader."""
    username = auditor.strip() if isinstance(auditor, str) else ""
    person = User.objects.filter(username=username, is_active=True).first() if username else None
    if person is None or not Membership.objects.filter(project=dataset.project, user=person).exists():
        raise ValidationFailed(f"The auditor must be a member of this project; {auditor!r} is not.")
    if person.pk == dataset.uploaded_by_id:
        raise ValidationFailed(f"{username} uploaded these labels: a second person must audit them.")
    return person


def _unanswered_audit(audit: LabelAudit, doing: str) -> LabelAudit:
    """Inside the caller's transaction: the audit, locked, if it may still be changed (preparing or open,
    no item answered yet); else Conflict saying why.

    The audit chain's lock comes first, here as in every label-audit service (see audit_chain_lock): the
    worker that fills in a prepared sample holds the chain while it locks the audit, so a person's change
    that locked the audit first and then appended its event would deadlock with it."""
    audit_chain_lock()
    audit = LabelAudit.objects.select_for_update().select_related("dataset__project", "auditor").get(pk=audit.pk)
    if audit.status not in (LabelAudit.Status.PREPARING, LabelAudit.Status.OPEN):
        raise Conflict(f"Audit #{audit.pk} is {audit.get_status_display().lower()}: it can no longer be {doing}.")
    answered = audit.items.filter(answered_at__isnull=False).count()
    if answered:
        raise Conflict(f"The auditor has already answered {answered} item(s) of audit #{audit.pk}: it can only "
                       f"be {doing} before the first answer.")
    return audit


def label_audit_cancel(*, actor, audit: LabelAudit) -> LabelAudit:
    """The data owner withdraws an audit nobody has answered yet (preparing or open). A cancelled audit no
    longer blocks starting another; a worker still preparing it leaves it alone."""
    _require_curator(actor, audit.dataset)
    with transaction.atomic(durable=True):
        audit = _unanswered_audit(audit, "cancelled")
        before = audit.status
        audit.status = LabelAudit.Status.CANCELLED
        audit.save(update_fields=["status"])
        audit_record(actor=actor, action="label_audit.cancelled", project=audit.dataset.project, obj=audit,
                     before={"status": before}, after={"status": audit.status})
    return audit


def label_audit_reassign(*, actor, audit: LabelAudit, auditor: str) -> LabelAudit:
    """The data owner hands an audit nobody has answered yet to another member, under the same rules as
    starting one: a member of the project, not the person who uploaded the labels."""
    _require_curator(actor, audit.dataset)
    person = _auditor_for(audit.dataset, auditor)
    with transaction.atomic(durable=True):
        audit = _unanswered_audit(audit, "reassigned")
        if person.pk == audit.auditor_id:
            raise ValidationFailed(f"{person.get_username()} already audits this sample.")
        before = audit.auditor.get_username()
        audit.auditor = person
        audit.save(update_fields=["auditor"])
        audit_record(actor=actor, action="label_audit.reassigned", project=audit.dataset.project, obj=audit,
                     before={"auditor": before}, after={"auditor": person.get_username()})
    return audit


def _fail_stalled_preparations(dataset: Dataset) -> None:
    """Inside the caller's transaction: mark failed any preparation older than the timeout."""
    cutoff = timezone.now() - timedelta(seconds=settings.PLAYBOOK_AUDIT_PREPARE_TIMEOUT_SECONDS)
    for audit in LabelAudit.objects.select_for_update().filter(
            dataset=dataset, status=LabelAudit.Status.PREPARING, created_at__lt=cutoff):
        _mark_failed(audit, "No worker prepared the sample in time; it was given up when a new audit started.")


def _mark_failed(audit: LabelAudit, message: str) -> None:
    audit.status, audit.message = LabelAudit.Status.FAILED, message[:2000]
    audit.save(update_fields=["status", "message"])
    audit_record(actor="worker", action="label_audit.failed", project=audit.dataset.project, obj=audit,
                 before={"status": LabelAudit.Status.PREPARING},
                 after={"status": audit.status, "message": message[:500]})


def _rank_sample(audit: LabelAudit, report=None) -> tuple[list[dict], list[str], str]:
    """Rank every row by likely label error and pick the sample: (chosen items, labels, how it was ranked)."""
    from workers.engine.label_audit import out_of_fold_probabilities, select_audit_sample

    report = report or (lambda step, metrics, progress, message="": None)
    rows = audit.dataset.read_rows()
    labels, texts = [r["label"] for r in rows], [r["text"] for r in rows]
    report(0, {"rows": len(rows)}, 0.05, "Encoding with the chosen base model")
    features, ranked_by = _chosen_encoder_features(audit.dataset, texts)
    report(1, {}, 0.4, "Ranking every row out of fold")
    probs, classes = out_of_fold_probabilities(texts, labels, seed=audit.seed, features=features)
    chosen = select_audit_sample(labels, probs, classes, size=min(audit.size, len(rows)), seed=audit.seed)
    report(2, {"sample": len(chosen)}, 1.0, "Sample picked")
    return chosen, labels, ranked_by


def _open_prepared(audit_id: int, chosen: list[dict], labels: list[str], ranked_by: str) -> str:
    """Inside the caller's transaction: fill in the sample and open the audit, unless it is no longer
    preparing (cancelled, or given up as stalled). Returns the audit's status."""
    audit = LabelAudit.objects.select_for_update().select_related("dataset__project").get(pk=audit_id)
    if audit.status != LabelAudit.Status.PREPARING:
        return audit.status
    LabelAuditItem.objects.bulk_create([
        LabelAuditItem(audit=audit, position=i, row_index=item["index"], part=item["part"],
                       original_label=labels[item["index"]])
        for i, item in enumerate(chosen)
    ])
    audit.status, audit.size = LabelAudit.Status.OPEN, len(chosen)
    audit.results = {"ranked_by": ranked_by}
    audit.save(update_fields=["status", "size", "results"])
    parts = {part: sum(1 for item in chosen if item["part"] == part) for part in ("random", "flagged")}
    audit_record(actor="worker", action="label_audit.prepared", project=audit.dataset.project, obj=audit,
                 before={"status": LabelAudit.Status.PREPARING},
                 after={"status": audit.status, "ranked_by": ranked_by, **parts})
    return audit.status


def prepare_audit_run(job, report):
    """The ``prepare_audit`` job: the sample is filled in when the job succeeds, in the same transaction."""
    from apps.jobs.kinds import JobOutcome

    audit = LabelAudit.objects.select_related("dataset").get(pk=int(job.subject_id))
    if audit.status != LabelAudit.Status.PREPARING:  # cancelled or given up before a worker got to it
        return JobOutcome({"audit": audit.pk, "status": audit.status})
    chosen, labels, ranked_by = _rank_sample(audit, report)

    def record(job):
        job.result = {**job.result, "status": _open_prepared(audit.pk, chosen, labels, ranked_by)}
        job.save(update_fields=["result"])

    return JobOutcome({"audit": audit.pk, "ranked_by": ranked_by}, record=record)


def prepare_audit_params(audit: LabelAudit, params: dict) -> dict:
    if params:
        raise ValidationFailed("Preparing an audit takes no settings.")
    return {}


def prepare_audit_failed(job, error: str) -> None:
    """Inside the transaction that fails the job: the audit shows the failure, and a new one may start."""
    audit = LabelAudit.objects.select_for_update().select_related("dataset__project").filter(
        pk=int(job.subject_id)).first()
    if audit is not None and audit.status == LabelAudit.Status.PREPARING:
        _mark_failed(audit, error.split("\n\n")[0])  # the error without the job's traceback


def _chosen_candidate(project):
    """The base model an approved Play 2 gate of ``project`` handed on (its name and source), or None."""
    from apps.playbook.selectors import cycle_inputs, current_cycle

    cycle = current_cycle(project)
    return cycle_inputs(cycle).get(2) if cycle else None


def _chosen_encoder_features(dataset: Dataset, texts: list[str]):
    """(embeddings, description) from the base model an approved Play 2 gate chose for this project, or
    (None, description) when there is none or it cannot be loaded: the ranking then uses TF-IDF alone."""
    tfidf = "TF-IDF (word and character n-grams) + logistic regression, out of fold"
    candidate = _chosen_candidate(dataset.project)
    if candidate is None:
        return None, tfidf
    try:
        from apps.core.storage import features_dir
        from workers.engine.encoders import load_encoder
        from workers.engine.features import cached_features

        encoder = load_encoder(candidate.source)
        # The bake-off's cache key: a dataset it already encoded (often the audited one) costs no forward pass.
        features = cached_features(encoder, texts, cache_dir=features_dir(),
                                   model_key=encoder.model_key, split_key="bakeoff-sample", pooling="mean",
                                   max_length=128)
    except Exception as exc:  # an encoder that cannot be loaded or run must not stop the audit
        return None, f"{tfidf}; the chosen base model {candidate.name!r} was not used ({type(exc).__name__}: {exc})"
    return features.tensor.numpy(), f"{tfidf}, averaged with a linear probe on {candidate.name} embeddings"


def label_audit_next(*, actor, audit: LabelAudit) -> tuple[LabelAuditItem, str] | None:
    """The auditor's next unanswered item and its text — never its original label."""
    if actor.pk != audit.auditor_id:
        raise NotAllowed("Only the assigned auditor relabels this sample.")
    _require_prepared(audit)
    item = audit.items.filter(answered_at__isnull=True).order_by("position").first()
    if item is None:
        return None
    rows = audit.dataset.read_rows()
    return item, rows[item.row_index]["text"]


def _require_prepared(audit: LabelAudit) -> None:
    if audit.status == LabelAudit.Status.PREPARING:
        raise Conflict("The audit sample is still being prepared; try again in a moment.")
    if audit.status == LabelAudit.Status.FAILED:
        raise Conflict(f"Preparing this audit's sample failed ({audit.message}); the data owner can start "
                       "a new audit.")
    if audit.status == LabelAudit.Status.CANCELLED:
        raise Conflict("The data owner cancelled this audit: there is nothing to relabel.")


def label_audit_answer(*, actor, audit: LabelAudit, item_id: int, label: str) -> LabelAudit:
    """Record the auditor's label for one item; the last answer completes the audit and scores it."""
    from workers.engine.label_audit import audit_results

    if actor.pk != audit.auditor_id:
        raise NotAllowed("Only the assigned auditor relabels this sample.")
    if label not in audit.dataset.labels:
        raise ValidationFailed(f"Choose one of the labels: {', '.join(audit.dataset.labels)}.")
    with transaction.atomic(durable=True):
        audit_chain_lock()  # before the row lock: see _unanswered_audit
        audit = LabelAudit.objects.select_for_update().get(pk=audit.pk)
        if actor.pk != audit.auditor_id:  # reassigned since the caller read it
            raise NotAllowed("Only the assigned auditor relabels this sample.")
        _require_prepared(audit)
        if audit.status != LabelAudit.Status.OPEN:
            raise Conflict("This audit is complete.")
        original = (LabelAuditItem.objects.filter(pk=item_id, audit=audit)
                    .values_list("original_label", flat=True).first())
        updated = LabelAuditItem.objects.filter(pk=item_id, audit=audit, answered_at__isnull=True).update(
            answer=label, answered_at=timezone.now())
        if updated != 1:
            raise Conflict("That item is not in this audit, or was already answered.")
        # The original label too, so the audit trail can count the disagreements of one audit's answers.
        audit_record(actor=actor, action="label_audit.answered", project=audit.dataset.project, obj=audit,
                     after={"item": item_id, "label": label, "original": original})
        if not audit.items.filter(answered_at__isnull=True).exists():
            items = [{"index": i.row_index, "part": i.part, "original": i.original_label, "answer": i.answer,
                      "item": i.pk} for i in audit.items.all()]
            audit.results = {**audit.results, **audit_results(items)}  # keeps "ranked_by"
            audit.status, audit.completed_at = LabelAudit.Status.COMPLETE, timezone.now()
            audit.save(update_fields=["results", "status", "completed_at"])
            audit_record(actor=actor, action="label_audit.completed", project=audit.dataset.project, obj=audit,
                         after={k: v for k, v in audit.results.items() if k != "disagreements"})
    return audit


def label_audit_resolve(*, actor, audit: LabelAudit, item_id: int, action: str, note: str = "") -> LabelAudit:
    """The data owner settles one disagreement: accept the auditor's label or keep the original (with a
    note). When the last one is settled and any label was accepted, a new dataset version with those
    labels is created, linked to its parent."""
    _require_curator(actor, audit.dataset)
    if action not in ("accept", "keep"):
        raise ValidationFailed("Choose Accept (take the auditor's label) or Keep (keep the original label).")
    note = (note or "").strip()
    if action == "keep" and not note:
        raise ValidationFailed("Keeping the original label needs a note saying why.")
    with transaction.atomic(durable=True):
        audit_chain_lock()  # before the row lock: see _unanswered_audit
        audit = LabelAudit.objects.select_for_update().select_related("dataset__project").get(pk=audit.pk)
        if audit.status != LabelAudit.Status.COMPLETE:
            raise Conflict("The audit is not complete yet.")
        item = audit.items.filter(pk=item_id).first()
        if item is None or item.answer == item.original_label:
            raise ValidationFailed("That item is not a disagreement of this audit.")
        if item.resolution:
            raise Conflict("That disagreement is already resolved.")
        item.resolution = LabelAuditItem.Resolution.ACCEPTED if action == "accept" else LabelAuditItem.Resolution.KEPT
        item.resolution_note = note
        item.save(update_fields=["resolution", "resolution_note"])
        audit_record(actor=actor, action="label_audit.resolved", project=audit.dataset.project, obj=audit,
                     after={"item": item.pk, "row": item.row_index, "resolution": item.resolution, "note": note})
        pending = [i for i in audit.items.all() if i.answer != i.original_label and not i.resolution]
        accepted = {i.row_index: i.answer for i in audit.items.all() if i.resolution == LabelAuditItem.Resolution.ACCEPTED}
    if not pending and accepted:
        version = _relabelled_version(actor=actor, audit=audit, relabels=accepted)
        with transaction.atomic(durable=True):
            audit = LabelAudit.objects.select_for_update().get(pk=audit.pk)
            audit.results = {**audit.results, "relabelled_dataset": version.pk}
            audit.save(update_fields=["results"])
    return audit


def _relabelled_version(*, actor, audit: LabelAudit, relabels: dict[int, str]) -> Dataset:
    import hashlib

    parent = audit.dataset
    rows = parent.read_rows()
    for index, label in relabels.items():
        rows[index] = {**rows[index], "label": label}
    payload = "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in rows).encode()
    fd, tmp = storage.incoming_file(storage.DATASETS)
    with os.fdopen(fd, "wb") as handle:
        handle.write(payload)
        handle.flush()
        os.fsync(handle.fileno())
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["label"]] = counts.get(r["label"], 0) + 1
    ingested = Ingested(path=Path(tmp), sha256=hashlib.sha256(payload).hexdigest(), rows=len(rows),
                        labels=sorted(counts), label_counts=dict(sorted(counts.items())), labelled_rows=len(rows),
                        warnings=list(parent.warnings))
    return _dataset_create(
        actor=actor, project=parent.project, ingested=ingested, name=f"{parent.name} (relabelled after audit #{audit.pk})",
        kind=parent.kind, original_filename=parent.original_filename, parent=parent,
        columns={"text_column": parent.text_column, "label_column": parent.label_column},
        action="dataset.relabelled", extra={"audit": audit.pk, "relabelled_rows": sorted(relabels)},
    )


# --- production resemblance -------------------------------------------------------------------------

EMBEDDING_SAMPLE = 300  # texts per side: enough for a two-sample AUC, quick enough to answer in a request


def _embedding_score(dataset: Dataset, test_texts: list[str], prod_texts: list[str]) -> dict:
    """Classifier two-sample test on encoder embeddings: the base model Play 2 chose when there is one,
    else the zero-shot baseline's encoder. Samples at most EMBEDDING_SAMPLE texts a side (seeded)."""
    import random

    from apps.core.encoders import zero_shot_source
    from workers.engine.encoders import EncoderUnavailable, load_encoder
    from workers.engine.resemblance import embedding_two_sample

    candidate = _chosen_candidate(dataset.project)
    source, name = (candidate.source, candidate.name) if candidate else (zero_shot_source(), "zero-shot encoder")
    if not source:
        return {"skipped": "no encoder is available on this host"}
    rng = random.Random(0)
    test = rng.sample(test_texts, min(EMBEDDING_SAMPLE, len(test_texts)))
    prod = rng.sample(prod_texts, min(EMBEDDING_SAMPLE, len(prod_texts)))
    try:
        encoder = load_encoder(source)
        result = embedding_two_sample(encoder.encode(test).numpy(), encoder.encode(prod).numpy())
    except (EncoderUnavailable, ValueError) as exc:
        return {"skipped": str(exc)}
    return {**result, "encoder": source, "encoder_name": name}


def _sealed_split_set(dataset: Dataset) -> SplitSet:
    split_set = dataset.split_sets.order_by("-sealed_at").first()
    if split_set is None:
        raise Conflict("Seal the dataset's splits first: the production sample is compared with the test split.")
    return split_set


def production_sample_compare(*, actor, dataset: Dataset, upload, text_column: str = "text",
                              label_column: str = "label"):
    """Store an uploaded production sample and start comparing it with the dataset's sealed test split.

    Check, then store, then queue: a caller who may not curate this project's data, a closed project or
    a dataset without sealed splits is refused before the upload is read, so a refusal writes nothing (no
    dataset row, no file, no audit event). A bad file is refused by the upload itself, likewise. Returns
    (the production dataset, the comparison job)."""
    _require_curator(actor, dataset)
    _sealed_split_set(dataset)
    production = dataset_upload(actor=actor, project=dataset.project, upload=upload,
                                kind=Dataset.Kind.PRODUCTION_SAMPLE, name=f"Production sample for {dataset.name}",
                                text_column=text_column, label_column=label_column)
    return production, production_compare(actor=actor, dataset=dataset, production=production)


def compare_params(dataset: Dataset, params: dict) -> dict:
    if set(params) != {"production"}:
        raise ValidationFailed("A production comparison takes one setting: production (a production sample's id).")
    production = Dataset.objects.filter(pk=params["production"]).first()
    if (production is None or production.kind != Dataset.Kind.PRODUCTION_SAMPLE
            or production.project_id != dataset.project_id):
        raise ValidationFailed("Compare with a production sample of this project.")
    _sealed_split_set(dataset)
    return {"production": production.pk}


def production_compare(*, actor, dataset: Dataset, production: Dataset):
    """Start comparing a production sample with the test split of the dataset's latest sealed splits (a
    ``compare_production`` job: text statistics, label mix, and a classifier two-sample test on encoder
    embeddings, which takes a worker tens of seconds). Returns the job; the report appears when it
    succeeds."""
    from apps.jobs.services import job_enqueue

    _require_curator(actor, dataset)
    with transaction.atomic(durable=True):
        return job_enqueue("compare_production", dataset, {"production": production.pk}, requested_by=actor,
                           play=_play3_of(dataset))


def production_compare_run(job, report):
    """Worker side of production_compare; the report and its audit event are written when the job
    succeeds, in the same transaction."""
    from apps.jobs.kinds import JobOutcome
    from workers.engine.resemblance import compare

    dataset = Dataset.objects.select_related("project").get(pk=int(job.subject_id))
    production = Dataset.objects.get(pk=job.params["production"])
    test = _sealed_split_set(dataset).splits.get(name=Split.Name.TEST)
    # Reading the test split's texts for a distribution comparison is not training; it is recorded all the same.
    with open(storage.absolute(test.path), encoding="utf-8") as handle:
        test_rows = [json.loads(line) for line in handle if line.strip()]
    prod_rows = production.read_rows()
    labelled = all("label" in r for r in prod_rows)
    report(0, {"test_rows": len(test_rows), "production_rows": len(prod_rows)}, 0.05, "Comparing text statistics")
    stats = compare([r["text"] for r in test_rows], [r["text"] for r in prod_rows],
                    test_labels=[r["label"] for r in test_rows] if labelled else None,
                    prod_labels=[r["label"] for r in prod_rows] if labelled else None)
    report(1, {}, 0.3, "Embedding both samples")
    stats["embedding"] = _embedding_score(dataset, [r["text"] for r in test_rows], [r["text"] for r in prod_rows])
    if stats["embedding"].get("interpretation"):
        stats.setdefault("verdict", []).append(
            f"embeddings ({stats['embedding']['encoder_name']}): a classifier tells production from test with "
            f"AUC {stats['embedding']['auc']:.2f} — {stats['embedding']['interpretation']}")
    report(2, {}, 1.0, "Compared")

    def record(job):
        created = ResemblanceReport.objects.create(split=test, production=production, stats=stats,
                                                   created_by=job.created_by)
        SplitRead.objects.create(split=test, job=job, purpose="production resemblance")
        audit_record(actor=job.created_by or "system", action="dataset.production_compared",
                     project=dataset.project, obj=created,
                     after={"test_split": test.sha256, "production": production.pk,
                            "verdict": stats.get("verdict", []), "job": job.pk})
        job.result = {**job.result, "report": created.pk}
        job.save(update_fields=["result"])

    return JobOutcome({"production": production.pk, "stats": stats}, record=record)
