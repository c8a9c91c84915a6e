from django.contrib import admin

from apps.core.admin_base import ReadOnlyModelAdmin
from apps.notifications.models import Notification


@admin.register(Notification)
class NotificationAdmin(ReadOnlyModelAdmin):
    """Read-only: notifications are derived from the audit trail by the services."""

    list_display = ["created_at", "recipient", "kind", "title", "read_at", "emailed_at", "email_error"]
    list_filter = ["kind"]
    search_fields = ["title", "recipient__username"]
