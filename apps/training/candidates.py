"""Registering candidate base models for Play 2."""
import re
from pathlib import Path

from django.db import IntegrityError, transaction

from apps.audit.services import audit_record
from apps.core.errors import Conflict, NotAllowed, ValidationFailed
from apps.playbook import policy
from apps.playbook.models import Project
from apps.playbook.policy import Action
from apps.training.models import Candidate

# Licences that permit commercial use and modification without copyleft obligations on the model's users.
# Anything else needs the model owner's explicit verdict.
PERMISSIVE_SPDX = {"Apache-2.0", "MIT", "BSD-2-Clause", "BSD-3-Clause", "ISC", "CC-BY-4.0", "Unlicense", "CC0-1.0"}
_HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")
_SPDX = re.compile(r"^[A-Za-z0-9.+-]{2,64}$")


def _number(value, name: str, *, low: float, high: float) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValidationFailed(f"Give {name} as a number.") from None
    if not low < number <= high:
        raise ValidationFailed(f"Give {name} as a number above {low:g} and at most {high:g}.")
    return number


def candidate_register(*, actor, project: Project, name: str, source: str, licence: str, domain_rating,
                       latency_budget_ms, memory_budget_mb, domain_note: str = "",
                       licence_permits: bool | None = None) -> Candidate:
    """Add a candidate base model to the project. `source` is a local model directory (it must hold a
    config.json) or a hub id; `licence_permits` defaults to True only for well-known permissive licences."""
    verdict = policy.check(actor, Action.CANDIDATE_REGISTER, project)
    if not verdict:
        raise NotAllowed(verdict.reason)
    name, source, licence = (name or "").strip(), (source or "").strip(), (licence or "").strip()
    if not name or len(name) > 120:
        raise ValidationFailed("Name the candidate (up to 120 characters).")
    if not source:
        raise ValidationFailed("Give the model's source: a local model directory or a hub id.")
    if source.startswith(("/", ".", "~")):
        path = Path(source).expanduser()
        if not (path / "config.json").is_file():
            raise ValidationFailed(f"The source {source!r} is not a model directory: it has no config.json file.")
    elif not _HUB_ID.match(source):
        raise ValidationFailed("Give the source as an absolute local path or a hub id like organisation/model-name.")
    if not _SPDX.match(licence):
        raise ValidationFailed("Give the licence as an SPDX identifier, e.g. Apache-2.0 or MIT.")
    try:
        rating = int(domain_rating)
    except (TypeError, ValueError):
        raise ValidationFailed("Give the domain rating as a whole number from 1 to 5.") from None
    if not 1 <= rating <= 5:
        raise ValidationFailed("Give the domain rating as a whole number from 1 to 5.")
    latency = _number(latency_budget_ms, "the latency budget (ms)", low=0, high=60_000)
    memory = _number(memory_budget_mb, "the memory budget (MB)", low=0, high=10_000_000)
    permits = (licence in PERMISSIVE_SPDX) if licence_permits is None else bool(licence_permits)
    try:
        with transaction.atomic(durable=True):
            candidate = Candidate.objects.create(
                project=project, name=name, source=source, licence=licence, licence_permits=permits,
                domain_rating=rating, domain_note=(domain_note or "").strip(), latency_budget_ms=latency,
                memory_budget_mb=memory, created_by=actor,
            )
            audit_record(actor=actor, action="candidate.registered", project=project, obj=candidate,
                         after={"name": name, "source": source, "licence": licence, "licence_permits": permits,
                                "domain_rating": rating, "latency_budget_ms": latency, "memory_budget_mb": memory})
    except IntegrityError:
        raise Conflict(f"This project already has a candidate named {name!r}.") from None
    return candidate
