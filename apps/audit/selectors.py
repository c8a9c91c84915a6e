from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.core.errors import ValidationFailed


@dataclass(frozen=True)
class AuditFilters:
    project: int | None = None
    actor: str = ""
    action: str = ""
    since: date | None = None
    until: date | None = None

    @classmethod
    def parse(cls, params) -> "AuditFilters":
        def _date(name):
            raw = (params.get(name) or "").strip()
            if not raw:
                return None
            try:
                return date.fromisoformat(raw)
            except ValueError:
                raise ValidationFailed(f"{name} must be a date like 2026-11-24") from None

        project = (params.get("project") or "").strip()
        if project and not project.isdigit():
            raise ValidationFailed("project must be a project id")
        return cls(project=int(project) if project else None, actor=(params.get("actor") or "").strip(),
                   action=(params.get("action") or "").strip(), since=_date("since"), until=_date("until"))


def audit_events(filters: AuditFilters):
    qs = AuditEvent.objects.select_related("project").order_by("-id")
    if filters.project:
        qs = qs.filter(project_id=filters.project)
    if filters.actor:
        qs = qs.filter(actor_label=filters.actor)
    if filters.action:
        qs = qs.filter(action__startswith=filters.action)
    if filters.since:
        qs = qs.filter(event_time__gte=timezone.make_aware(datetime.combine(filters.since, time.min)))
    if filters.until:
        qs = qs.filter(event_time__lt=timezone.make_aware(datetime.combine(filters.until + timedelta(days=1), time.min)))
    return qs


def audit_actions() -> list[str]:
    return list(AuditEvent.objects.order_by("action").values_list("action", flat=True).distinct())
