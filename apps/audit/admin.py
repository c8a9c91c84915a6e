from django.contrib import admin

from apps.audit.models import AuditEvent
from apps.core.admin_base import ReadOnlyModelAdmin


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyModelAdmin):
    """Append-only: nothing can be added, changed or deleted from here."""

    list_display = ["id", "event_time", "actor_label", "action", "project", "object_type", "object_id"]
    list_filter = ["action"]
    search_fields = ["actor_label", "action", "request_id"]
