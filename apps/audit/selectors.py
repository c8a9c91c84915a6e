from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.core.errors import FieldErrors, ValidationFailed

DATE_NAMES = {"since": "“from” date", "until": "“to” date"}


@dataclass(frozen=True)
class AuditFilters:
    project: int | None = None
    actor: str = ""
    action: str = ""
    # From this moment on, up to this one (a date alone: from its start, up to its end).
    since: datetime | None = None
    until: datetime | None = None

    @classmethod
    def parse(cls, params) -> "AuditFilters":
        errors, moments = FieldErrors(), {}
        for name in ("since", "until"):
            with errors.on(name):
                moments[name] = parse_moment(params.get(name), name)
        project = (params.get("project") or "").strip()
        # Any whole number is an id (one that names no project lists nothing); anything else is refused.
        if project and not project.removeprefix("-").isdigit():
            errors.add("project", "Choose the project from the list.")
        errors.raise_if_any()
        since, until = moments.get("since"), moments.get("until")
        if since and until and since > until:
            # Each date is fine on its own: the pair is refused, not one field.
            raise ValidationFailed("The “to” date is before the “from” date: swap them.")
        return cls(project=int(project) if project else None, actor=(params.get("actor") or "").strip(),
                   action=(params.get("action") or "").strip(), since=since, until=until)


def parse_moment(raw, name: str) -> datetime | None:
    """An ISO 8601 date (2026-12-03) or date and time (2026-12-03T10:00, 2026-12-03 10:00, with an optional
    offset such as Z or +01:00), as an aware moment; a date alone means its start ("since") or the end of
    that day ("until"). Empty: no bound."""
    raw = (raw or "").strip()
    if not raw:
        return None
    try:
        if len(raw) == 10:
            day = date.fromisoformat(raw)
            moment = datetime.combine(day + timedelta(days=1) if name == "until" else day, time.min)
            # The end of the day is the next day's start, excluded: a microsecond before it.
            moment -= timedelta(microseconds=1) if name == "until" else timedelta(0)
        else:
            moment = datetime.fromisoformat(raw.replace(" ", "T", 1))
    except ValueError:
        message = (f"Give the {DATE_NAMES.get(name, 'date')} as an ISO date like 2026-12-03, or a date and time "
                   f"like 2026-12-03T10:00 (“{raw[:40]}” is neither).")
        raise ValidationFailed(message, fields={name: message}) from None
    return timezone.make_aware(moment) if timezone.is_naive(moment) else moment


def audit_events(filters: AuditFilters):
    qs = AuditEvent.objects.select_related("project").order_by("-id")
    if filters.project:
        qs = qs.filter(project_id=filters.project)
    if filters.actor:
        qs = qs.filter(actor_label=filters.actor)
    if filters.action:
        qs = qs.filter(action__startswith=filters.action)
    if filters.since:
        qs = qs.filter(event_time__gte=filters.since)
    if filters.until:
        qs = qs.filter(event_time__lte=filters.until)
    return qs


def audit_actions() -> list[str]:
    return list(AuditEvent.objects.order_by("action").values_list("action", flat=True).distinct())


# --- how the audit page reads an event ------------------------------------------------------------------

LONG_TEXT = 80  # characters of a value shown in full; longer ones are elided (the whole is in the title)


@dataclass(frozen=True)
class Change:
    """One field of an event's before/after: "changed" (old → new), "added", "removed", or "set" (an event
    with no before, such as a creation)."""

    field: str
    kind: str
    old: str = ""
    new: str = ""
    old_full: str = ""
    new_full: str = ""


def _flatten(value, prefix: str = "") -> dict:
    """A nested object as {"a.b": leaf}; a list or a plain value is one leaf."""
    if isinstance(value, dict) and value:
        out = {}
        for key, inner in value.items():
            out.update(_flatten(inner, f"{prefix}.{key}" if prefix else str(key)))
        return out
    return {prefix or "value": value}


def _shown(value) -> tuple[str, str]:
    """A value as the page writes it, and its full text when that was elided ("" when not)."""
    import json

    from django.core.serializers.json import DjangoJSONEncoder

    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, cls=DjangoJSONEncoder,
                                                             ensure_ascii=False)
    if len(text) <= LONG_TEXT:
        return text, ""
    return text[:LONG_TEXT - 1].rstrip() + "…", text


def event_changes(before, after) -> list[Change]:
    """The readable difference between an event's before and after, field by field (unchanged fields left
    out; a field in only one of them is added or removed)."""
    if before is None and after is None:
        return []
    old = _flatten(before) if before is not None else {}
    new = _flatten(after) if after is not None else {}
    changes = []
    for key in list(old) + [k for k in new if k not in old]:
        if key in old and key in new:
            if old[key] == new[key]:
                continue
            (o, of), (n, nf) = _shown(old[key]), _shown(new[key])
            changes.append(Change(key, "changed", o, n, of, nf))
        elif key in new:
            n, nf = _shown(new[key])
            changes.append(Change(key, "added" if before is not None else "set", new=n, new_full=nf))
        else:
            o, of = _shown(old[key])
            changes.append(Change(key, "removed", old=o, old_full=of))
    return changes


@dataclass
class AuditRow:
    """A row of the audit page: one event, or the answers of one label audit given one after another."""

    event: AuditEvent
    changes: list = field(default_factory=list)
    answers: list = field(default_factory=list)  # for a group: its events, newest first
    disagreements: int | None = None  # None when the answers did not record the original label

    @property
    def is_group(self) -> bool:
        return len(self.answers) > 1


ANSWERED = "label_audit.answered"


def audit_rows(events) -> list[AuditRow]:
    """The page's events as rows: consecutive answers of the same label audit by the same person become one
    row that expands to them all."""
    rows: list[AuditRow] = []
    for event in events:
        last = rows[-1] if rows else None
        if (event.action == ANSWERED and last is not None and last.event.action == ANSWERED
                and last.event.object_id == event.object_id and last.event.actor_label == event.actor_label):
            last.answers.append(event)
        else:
            rows.append(AuditRow(event, event_changes(event.before, event.after),
                                 answers=[event] if event.action == ANSWERED else []))
    for row in rows:
        if row.answers:
            known = [a.after for a in row.answers if isinstance(a.after, dict) and "original" in a.after]
            row.disagreements = (sum(1 for a in known if a["original"] != a.get("label"))
                                 if len(known) == len(row.answers) else None)
    return rows
