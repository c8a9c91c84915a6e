from django.contrib import admin, messages

from apps.accounts.models import Membership
from apps.core.errors import ApplicationError
from apps.playbook.models import Play, Project
from apps.playbook.services import project_set_solo


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    fields = ["user", "role", "created_at"]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


class PlayInline(admin.TabularInline):
    model = Play
    extra = 0
    fields = ["number", "status", "owner_role", "assignee", "submitted_by", "updated_at"]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    """Read-only here: projects change through the product's services (members on the project page)."""

    list_display = ["name", "status", "solo_mode", "created_by", "created_at"]
    list_filter = ["status", "solo_mode"]
    search_fields = ["name", "request"]
    readonly_fields = ["name", "request", "status", "solo_mode", "created_by", "created_at"]
    inlines = [MembershipInline]
    actions = ["turn_solo_on", "turn_solo_off"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        # Every field is read-only here, so a submitted change form has nothing to write: saving the row
        # anyway would be an unaudited write. Changes go through the audited actions below.
        pass

    def _solo(self, request, queryset, solo: bool):
        for project in queryset:
            try:
                project_set_solo(actor=request.user, project=project, solo=solo)
            except ApplicationError as exc:
                self.message_user(request, f"{project}: {exc.message}", messages.ERROR)
        self.message_user(request, f"Solo mode {'on' if solo else 'off'} for {queryset.count()} project(s).")

    @admin.action(description="Turn solo mode on (one person may hold every role)")
    def turn_solo_on(self, request, queryset):
        self._solo(request, queryset, True)

    @admin.action(description="Turn solo mode off")
    def turn_solo_off(self, request, queryset):
        self._solo(request, queryset, False)
