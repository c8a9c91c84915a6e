from contextvars import ContextVar

from axes.models import AccessAttempt
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.forms import AdminPasswordChangeForm
from django.contrib.auth.models import Group
from django.utils import timezone

from apps.accounts.models import ApiToken
from apps.accounts.services import (
    api_token_revoke,
    group_admin_delete,
    group_admin_save,
    signin_lockout_lift,
    user_admin_relations_save,
    user_admin_save,
    user_password_set,
)
from apps.core.admin_base import ReadOnlyModelAdmin
from apps.core.errors import ApplicationError

User = get_user_model()
admin.site.unregister(User)
admin.site.unregister(Group)

# The admin who is changing a password, for the form's save(): Django's password view builds the form
# without the request, and the admin object is shared between threads, so it travels in a context variable.
_password_actor: ContextVar = ContextVar("password_actor", default=None)


class AuditedPasswordChangeForm(AdminPasswordChangeForm):
    def save(self, commit=True):
        usable = self.cleaned_data.get("set_usable_password", True)
        user_password_set(actor=_password_actor.get(), user=self.user,
                          password=self.cleaned_data["password1"] if usable else None)
        return self.user


@admin.register(User)
class AuditedUserAdmin(UserAdmin):
    """Django's user admin, with every save going through an audited service."""

    change_password_form = AuditedPasswordChangeForm

    def save_model(self, request, obj, form, change):
        user_admin_save(actor=request.user, user=obj, changed=list(form.changed_data), is_new=not change)

    def save_related(self, request, form, formsets, change):
        user_admin_relations_save(actor=request.user, user=form.instance, save_m2m=form.save_m2m)

    def user_change_password(self, request, id, form_url=""):
        reset = _password_actor.set(request.user)
        try:
            return super().user_change_password(request, id, form_url)
        finally:
            _password_actor.reset(reset)

    def has_delete_permission(self, request, obj=None):
        # Users appear in the append-only audit trail: deactivate them instead.
        return False


@admin.register(Group)
class AuditedGroupAdmin(GroupAdmin):
    """Groups and their permissions: every save and delete is audited."""

    def save_model(self, request, obj, form, change):
        # Nothing yet: the group is saved with its permissions in save_related, one audited service call.
        pass

    def save_related(self, request, form, formsets, change):
        group_admin_save(actor=request.user, group=form.instance, form=form, is_new=not change)

    def delete_model(self, request, obj):
        group_admin_delete(actor=request.user, group=obj)

    def delete_queryset(self, request, queryset):
        for group in queryset:
            group_admin_delete(actor=request.user, group=group)


@admin.register(ApiToken)
class ApiTokenAdmin(ReadOnlyModelAdmin):
    """API tokens: read-only (a key exists only in its owner's hands); admins may revoke, audited."""

    list_display = ["name", "prefix", "user", "created_at", "expires_at", "last_used_at", "revoked_at", "revoked_by"]
    list_filter = ["revoked_at"]
    search_fields = ["name", "prefix", "user__username"]
    actions = ["revoke"]

    @admin.action(description="Revoke the selected tokens", permissions=["view"])
    def revoke(self, request, queryset):
        revoked = 0
        for token in queryset.filter(revoked_at__isnull=True):
            try:
                api_token_revoke(actor=request.user, token=token)
                revoked += 1
            except ApplicationError as exc:
                self.message_user(request, f"{token}: {exc.message}", messages.ERROR)
        self.message_user(request, f"{revoked} token(s) revoked.")


@admin.register(AccessAttempt)
class LockoutAdmin(ReadOnlyModelAdmin):
    """Failed sign-ins counted by django-axes, per username and address; lifting one is audited."""

    list_display = ["username", "ip_address", "failures_since_start", "attempt_time", "locked"]
    search_fields = ["username", "ip_address"]
    fields = list_display[:-1] + ["user_agent", "path_info"]
    readonly_fields = fields
    actions = ["lift"]

    @admin.display(boolean=True, description="Locked out now")
    def locked(self, attempt):
        recent = timezone.now() - attempt.attempt_time < settings.AXES_COOLOFF_TIME
        return attempt.failures_since_start >= settings.PLAYBOOK_SIGNIN_FAILURE_LIMIT and recent

    @admin.action(description="Lift the lockout (forget these failed sign-ins)", permissions=["view"])
    def lift(self, request, queryset):
        lifted = 0
        for attempt in list(queryset):
            try:
                signin_lockout_lift(actor=request.user, attempt=attempt)
                lifted += 1
            except ApplicationError as exc:
                self.message_user(request, f"{attempt.username}: {exc.message}", messages.ERROR)
        self.message_user(request, f"{lifted} lockout(s) lifted.")
