import csv

from django.core.paginator import Paginator
from django.http import StreamingHttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from apps.audit.models import AuditEvent
from apps.audit.selectors import AuditFilters, audit_actions, audit_events, audit_rows
from apps.audit.verification import verify_chain
from apps.core.errors import ValidationFailed
from apps.core.views import staff_required

CSV_COLUMNS = ["id", "event_time", "actor_label", "action", "project_id", "object_type", "object_id",
               "before", "after", "request_id", "prev_hash", "hash"]


class _Echo:
    def write(self, value):
        return value


def _projects():
    """Every project, for the filter (the audit app sits below the core, so it reaches the model through
    the event's foreign key rather than by importing it)."""
    return AuditEvent._meta.get_field("project").related_model.objects.order_by("name")


@staff_required
@require_GET
def audit_list(request):
    error, field_errors = "", {}
    try:
        filters = AuditFilters.parse(request.GET)
    except ValidationFailed as exc:
        filters, error, field_errors = AuditFilters(), exc.message, exc.fields
    # A refused filter lists nothing rather than everything under a message that says it was refused.
    events = audit_events(filters) if not error else AuditEvent.objects.none()
    if request.GET.get("format") == "csv" and not error:
        writer = csv.writer(_Echo())

        def rows():
            yield writer.writerow(CSV_COLUMNS)
            for e in events.iterator(chunk_size=1000):
                yield writer.writerow([
                    e.pk, e.event_time.isoformat(), e.actor_label, e.action, e.project_id or "", e.object_type,
                    e.object_id, _json(e.before), _json(e.after), e.request_id, e.prev_hash, e.hash,
                ])

        response = StreamingHttpResponse(rows(), content_type="text/csv")
        response["Content-Disposition"] = 'attachment; filename="playbook-audit.csv"'
        return response
    page = Paginator(events, 50).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    query.pop("verify", None)
    # "Verify the chain" walks every event (read-only, one snapshot): on request only, never on each view.
    chain = verify_chain() if request.GET.get("verify") == "1" else None
    return render(request, "audit/audit_list.html", {
        "page": page, "rows": audit_rows(page.object_list), "filters": filters, "error": error,
        "field_errors": field_errors, "projects": _projects(), "actions": audit_actions(),
        # The date fields show what was typed, refused or not.
        "typed": {name: request.GET.get(name, "") for name in ("since", "until")},
        "query": query.urlencode(), "chain": chain,
    }, status=400 if error else 200)


def _json(value) -> str:
    import json

    from django.core.serializers.json import DjangoJSONEncoder

    return "" if value is None else json.dumps(value, sort_keys=True, cls=DjangoJSONEncoder)
