"""Registering candidate base models for Play 2."""
import re
from pathlib import Path

from django.db import IntegrityError, transaction

from apps.audit.services import audit_record
from apps.core.errors import Conflict, FieldErrors, NotAllowed, ValidationFailed
from apps.playbook import policy
from apps.playbook.models import Project
from apps.playbook.policy import Action
from apps.training.models import Candidate

# Licences that permit commercial use and modification without copyleft obligations on the model's users.
# Anything else needs the model owner's explicit verdict.
PERMISSIVE_SPDX = {"Apache-2.0", "MIT", "BSD-2-Clause", "BSD-3-Clause", "ISC", "CC-BY-4.0", "Unlicense", "CC0-1.0"}
_SPDX = re.compile(r"^[A-Za-z0-9.+-]{2,64}$")
# What the form and the API accept (the API's schema states the same rules, from these names).
NAME_MAX = 120
SOURCE_PATTERN = r"^(?:[/.~].*|[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*)$"
LICENCE_PATTERN = _SPDX.pattern
LATENCY_MS = (0.1, 60_000)  # a p95 budget under a tenth of a millisecond is not one a model can be held to
MEMORY_MB = (1, 10_000_000)


def _number(value, name: str, *, low: float, high: float) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValidationFailed(f"Give {name} as a number.") from None
    if not low <= number <= high:
        raise ValidationFailed(f"Give {name} as a number from {low:,g} to {high:,g}.")
    return number


def _is_model_dir(source: str) -> bool:
    """Whether the local path holds a model (its config.json); False for a path that cannot name one on this
    machine (an unknown user's ~name, a name too long for the file system)."""
    try:
        return (Path(source).expanduser() / "config.json").is_file()
    except (RuntimeError, OSError, ValueError):
        return False


def candidate_register(*, actor, project: Project, name: str, source: str, licence: str, domain_rating,
                       latency_budget_ms, memory_budget_mb, domain_note: str = "",
                       licence_permits: bool | None = None) -> Candidate:
    """Add a candidate base model to the project. `source` is a local model directory (it must hold a
    config.json) or a hub id; `licence_permits` defaults to True only for well-known permissive licences."""
    verdict = policy.check(actor, Action.CANDIDATE_REGISTER, project)
    if not verdict:
        raise NotAllowed(verdict.reason)
    name, source, licence = (name or "").strip(), (source or "").strip(), (licence or "").strip()
    # Every field is checked before the form is refused, so the owner sees all of its problems at once.
    errors = FieldErrors()
    if not name or len(name) > NAME_MAX:
        errors.add("name", f"Name the candidate (up to {NAME_MAX} characters).")
    if not source:
        errors.add("source", "Give the model's source: a local model directory or a hub id.")
    elif not re.match(SOURCE_PATTERN, source):
        errors.add("source", "Give the source as an absolute local path or a hub id like organisation/model-name.")
    if not _SPDX.match(licence):
        errors.add("licence", "Give the licence as an SPDX identifier, e.g. Apache-2.0 or MIT.")
    rating = latency = memory = None
    with errors.on("domain_rating"):
        try:
            rating = int(domain_rating)
        except (TypeError, ValueError):
            rating = 0
        if not 1 <= rating <= 5:
            raise ValidationFailed("Give the domain rating as a whole number from 1 to 5.")
    with errors.on("latency_budget_ms"):
        latency = _number(latency_budget_ms, "the latency budget (ms)", low=LATENCY_MS[0], high=LATENCY_MS[1])
    with errors.on("memory_budget_mb"):
        memory = _number(memory_budget_mb, "the memory budget (MB)", low=MEMORY_MB[0], high=MEMORY_MB[1])
    errors.raise_if_any()
    # Only a well-formed path is looked at on disk. Whether it holds a model is a fact about this machine,
    # not about the form, so it is refused on its own (the API's schema cannot state it).
    if source.startswith(("/", ".", "~")) and not _is_model_dir(source):
        raise ValidationFailed(f"The source {source!r} is not a model directory: it has no config.json file.")
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
