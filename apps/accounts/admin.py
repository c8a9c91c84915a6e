from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin

from apps.accounts.services import user_admin_save

User = get_user_model()
admin.site.unregister(User)


@admin.register(User)
class AuditedUserAdmin(UserAdmin):
    """Django's user admin, with every save going through an audited service."""

    def save_model(self, request, obj, form, change):
        user_admin_save(actor=request.user, user=obj, changed=list(form.changed_data), is_new=not change)

    def has_delete_permission(self, request, obj=None):
        # Users appear in the append-only audit trail: deactivate them instead.
        return False
