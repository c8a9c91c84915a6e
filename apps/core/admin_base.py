from django.contrib import admin


class ReadOnlyModelAdmin(admin.ModelAdmin):
    """An admin that shows rows and writes none: their changes go through the services (and the audit trail),
    reached from admin only through audited actions."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
