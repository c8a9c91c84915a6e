"""Production traffic of a deployment: predictions Playbook serves, predictions and late feedback sent in
by systems that serve the model elsewhere, and the client tokens those systems use.

Every batch is checked whole before anything is stored: one bad row refuses the batch with a message naming
the row, and nothing of it is kept. Sending the same rows again changes nothing (idempotent by id); an id
sent again with different content is refused. Logged predictions are data, not governance state: they are
not audit events (the audit trail records who issued or revoked each client token)."""
import hashlib
import math
import secrets
import uuid
from datetime import datetime

from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from apps.audit.services import audit_record
from apps.core.errors import Conflict, NotAllowed, ValidationFailed
from apps.monitoring.models import ClientToken, Deployment, Feedback, PredictionLog
from apps.playbook import policy
from apps.playbook.policy import Action

MAX_PREDICT_BATCH = 64
MAX_INGEST_BATCH = 1000
MAX_TEXT = 10_000
MAX_ID = 128
LIVE = (Deployment.Stage.CHALLENGER, Deployment.Stage.PRODUCTION)


def _live(deployment: Deployment) -> None:
    if deployment.stage not in LIVE:
        raise Conflict(f"Deployment #{deployment.pk} is {deployment.stage}: it takes no traffic.")


def _text(value, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValidationFailed(f"{where}: text must be a non-empty string")
    if len(value) > MAX_TEXT:
        raise ValidationFailed(f"{where}: text is longer than {MAX_TEXT:,} characters")
    return value


def _id(value, where: str) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int)) or not str(value).strip():
        raise ValidationFailed(f"{where}: id must be a non-empty string")
    value = str(value).strip()
    if len(value) > MAX_ID:
        raise ValidationFailed(f"{where}: id is longer than {MAX_ID} characters")
    return value


def _rows(rows, limit: int) -> list:
    if not isinstance(rows, list) or not rows:
        raise ValidationFailed("Send a non-empty list of rows.")
    if len(rows) > limit:
        raise ValidationFailed(f"At most {limit:,} rows per request (got {len(rows):,}).")
    return rows


# --- client tokens ------------------------------------------------------------------------------------


def client_token_issue(*, actor, deployment: Deployment, name: str) -> tuple[ClientToken, str]:
    """A model owner issues a token for a client system: it may call this deployment's prediction
    endpoints and nothing else. Returns the token and its key (shown once; only its hash is kept)."""
    verdict = policy.check(actor, Action.DEPLOYMENT_CREATE, deployment.project)
    if not verdict:
        raise NotAllowed(verdict.reason)
    name = (name or "").strip()
    if not name or len(name) > 120:
        raise ValidationFailed("Name the client system (up to 120 characters).")
    key = f"pbc_{secrets.token_urlsafe(32)}"
    with transaction.atomic(durable=True):
        token = ClientToken.objects.create(deployment=deployment, name=name, prefix=key[:12],
                                           key_sha256=hashlib.sha256(key.encode()).hexdigest(), created_by=actor)
        audit_record(actor=actor, action="client_token.issued", project=deployment.project, obj=token,
                     after={"deployment": deployment.pk, "name": name, "prefix": token.prefix})
    return token, key


def client_token_for(key: str) -> ClientToken | None:
    """The live token a key belongs to, or None."""
    if not key or not key.startswith("pbc_"):
        return None
    return (ClientToken.objects.select_related("deployment__project", "deployment__package")
            .filter(key_sha256=hashlib.sha256(key.encode()).hexdigest(), revoked_at__isnull=True).first())


def client_token_revoke(*, actor, token: ClientToken) -> None:
    verdict = policy.check(actor, Action.DEPLOYMENT_CREATE, token.deployment.project)
    if not verdict:
        raise NotAllowed(verdict.reason)
    with transaction.atomic(durable=True):
        updated = ClientToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
        if updated:
            audit_record(actor=actor, action="client_token.revoked", project=token.deployment.project, obj=token,
                         after={"prefix": token.prefix})


# --- ingest ---------------------------------------------------------------------------------------------


def _probabilities(value, k: int, where: str) -> list[float]:
    if not isinstance(value, list) or len(value) != k:
        raise ValidationFailed(f"{where}: probabilities must be a list of {k} numbers (one per label)")
    out = []
    for p in value:
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not math.isfinite(p) or not 0 <= p <= 1:
            raise ValidationFailed(f"{where}: probabilities must be numbers between 0 and 1")
        out.append(float(p))
    if abs(sum(out) - 1.0) > 1e-3:
        raise ValidationFailed(f"{where}: probabilities must add up to 1 (they add up to {sum(out):.4f})")
    return out


def _at(value, where: str) -> datetime:
    if value in (None, ""):
        return timezone.now()
    parsed = parse_datetime(value) if isinstance(value, str) else None
    if parsed is None:
        raise ValidationFailed(f"{where}: at must be an ISO 8601 date and time")
    if timezone.is_naive(parsed):
        raise ValidationFailed(f"{where}: at must carry its time zone (e.g. 2026-12-02T10:00:00Z)")
    return parsed


def predictions_ingest(*, deployment: Deployment, rows) -> dict:
    """Log predictions a model served elsewhere made: ``[{id, text, label, probabilities, at}]``."""
    _live(deployment)
    labels = list(deployment.package.label_names)
    checked, seen = [], set()
    for i, row in enumerate(_rows(rows, MAX_INGEST_BATCH)):
        where = f"Row {i + 1}"
        if not isinstance(row, dict):
            raise ValidationFailed(f"{where}: expected an object with id, text, label, probabilities")
        if unknown := sorted(set(row) - {"id", "text", "label", "probabilities", "at"}):
            raise ValidationFailed(f"{where}: unknown field(s) {', '.join(unknown)}")
        external_id = _id(row.get("id"), where)
        if external_id in seen:
            raise ValidationFailed(f"{where}: id {external_id!r} appears twice in this batch")
        seen.add(external_id)
        label = row.get("label")
        if label not in labels:
            raise ValidationFailed(f"{where}: label {label!r} is not one of the model's labels ({', '.join(labels)})")
        probabilities = _probabilities(row.get("probabilities"), len(labels), where)
        checked.append(PredictionLog(deployment=deployment, external_id=external_id, text=_text(row.get("text"), where),
                                     label=label, probabilities=probabilities, source=PredictionLog.Source.INGESTED,
                                     at=_at(row.get("at"), where)))
    return _store(deployment, checked)


def _store(deployment: Deployment, checked: list[PredictionLog]) -> dict:
    with transaction.atomic(durable=True):
        existing = {p.external_id: p for p in PredictionLog.objects.select_for_update().filter(
            deployment=deployment, external_id__in=[c.external_id for c in checked])}
        fresh = []
        for row in checked:
            old = existing.get(row.external_id)
            if old is None:
                fresh.append(row)
            elif (old.text, old.label, [round(p, 6) for p in old.probabilities]) != (
                    row.text, row.label, [round(p, 6) for p in row.probabilities]):
                raise Conflict(f"Id {row.external_id!r} was logged before with other content: nothing was stored.")
        PredictionLog.objects.bulk_create(fresh)
    return {"stored": len(fresh), "already_stored": len(checked) - len(fresh)}


def feedback_ingest(*, deployment: Deployment, rows) -> dict:
    """True labels arriving late: ``[{id, label}]`` for predictions already logged."""
    labels = set(deployment.package.label_names)
    checked, seen = {}, set()
    for i, row in enumerate(_rows(rows, MAX_INGEST_BATCH)):
        where = f"Row {i + 1}"
        if not isinstance(row, dict) or set(row) - {"id", "label"}:
            raise ValidationFailed(f"{where}: expected an object with id and label only")
        external_id = _id(row.get("id"), where)
        if external_id in seen:
            raise ValidationFailed(f"{where}: id {external_id!r} appears twice in this batch")
        seen.add(external_id)
        if row.get("label") not in labels:
            raise ValidationFailed(f"{where}: label {row.get('label')!r} is not one of the model's labels")
        checked[external_id] = row["label"]
    with transaction.atomic(durable=True):
        logged = set(PredictionLog.objects.filter(deployment=deployment, external_id__in=list(checked))
                     .values_list("external_id", flat=True))
        if missing := [i for i in checked if i not in logged]:
            raise ValidationFailed(f"No logged prediction has id(s) {', '.join(map(repr, missing[:5]))}: "
                                   "log the prediction first; nothing was stored.")
        known = dict(Feedback.objects.select_for_update().filter(deployment=deployment, external_id__in=list(checked))
                     .values_list("external_id", "label"))
        if clash := [i for i, label in checked.items() if i in known and known[i] != label]:
            raise Conflict(f"Feedback for id(s) {', '.join(map(repr, clash[:5]))} was given before with another "
                           "label: nothing was stored.")
        fresh = [Feedback(deployment=deployment, external_id=i, label=label) for i, label in checked.items()
                 if i not in known]
        Feedback.objects.bulk_create(fresh)
    return {"stored": len(fresh), "already_stored": len(checked) - len(fresh)}


# --- serving --------------------------------------------------------------------------------------------


def predictions_serve(*, deployment: Deployment, texts, predictor) -> list[dict]:
    """Predict ``texts`` with the deployment's package (``predictor(texts) -> [{label, probabilities}]``)
    and log each prediction with its share of the batch's latency."""
    import time

    _live(deployment)
    if not isinstance(texts, list) or not texts:
        raise ValidationFailed("texts must be a non-empty list of strings")
    if len(texts) > MAX_PREDICT_BATCH:
        raise ValidationFailed(f"At most {MAX_PREDICT_BATCH} texts per request (got {len(texts)}).")
    texts = [_text(t, f"Text {i + 1}") for i, t in enumerate(texts)]
    started = time.perf_counter()
    answers = predictor(texts)
    latency = (time.perf_counter() - started) * 1000.0 / len(texts)
    now = timezone.now()
    logged = [PredictionLog(deployment=deployment, external_id=uuid.uuid4().hex, text=text, label=a["label"],
                            probabilities=[float(p) for p in a["probabilities"]], latency_ms=latency,
                            source=PredictionLog.Source.SERVED, at=now) for text, a in zip(texts, answers)]
    with transaction.atomic(durable=True):
        PredictionLog.objects.bulk_create(logged)
    return [{"id": row.external_id, "label": row.label, "probabilities": row.probabilities} for row in logged]
