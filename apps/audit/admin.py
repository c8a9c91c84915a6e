from django.contrib import admin

from apps.audit.models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Append-only: nothing can be added, changed or deleted from here."""

    list_display = ["id", "event_time", "actor_label", "action", "project", "object_type", "object_id"]
    list_filter = ["action"]
    search_fields = ["actor_label", "action", "request_id"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
