from django.contrib import admin

from apps.notifications.models import Notification


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    """Read-only: notifications are derived from the audit trail by the services."""

    list_display = ["created_at", "recipient", "kind", "title", "read_at", "emailed_at", "email_error"]
    list_filter = ["kind"]
    search_fields = ["title", "recipient__username"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
