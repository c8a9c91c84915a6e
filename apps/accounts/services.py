from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apps.accounts.models import ApiToken
from apps.audit.services import audit_record
from apps.core.errors import ApplicationError, Conflict, NotFound, ValidationFailed
from apps.core.tokens import token_digest, token_generate

API_TOKEN_PREFIX = "pbt_"
# How often a token's `last_used_at` is written: every request would turn each API read into a write.
_LAST_USED_GRANULARITY = timedelta(minutes=1)


class TokenRefused(ApplicationError):
    """An API key that is unknown, expired or revoked (401)."""

    status_code = 401


class LockedOut(ApplicationError):
    """Too many failed sign-ins from this address for this username (429)."""

    status_code = 429


@dataclass(frozen=True)
class IssuedToken:
    """A token just made, with its key: the only moment the key exists outside the client."""

    token: ApiToken
    key: str


# --- API tokens ----------------------------------------------------------------------------------------


def api_token_create(*, actor, name: str, days: int | None = None) -> IssuedToken:
    """Make an API token for the actor. Returns it with its key, which is shown once (only a digest is kept).
    `days` defaults to PLAYBOOK_API_TOKEN_DAYS and may not exceed it."""
    name = (name or "").strip()
    if not name or len(name) > 120:
        raise ValidationFailed("Name the token (up to 120 characters), e.g. the script or machine that uses it.")
    limit = settings.PLAYBOOK_API_TOKEN_DAYS
    days = limit if days is None else days
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= limit:
        raise ValidationFailed(f"A token lasts between 1 and {limit} days.")
    key = token_generate(API_TOKEN_PREFIX)
    now = timezone.now()
    with transaction.atomic(durable=True):
        token = ApiToken.objects.create(user=actor, name=name, prefix=key[:12], key_sha256=token_digest(key),
                                        created_at=now, expires_at=now + timedelta(days=days))
        audit_record(actor=actor, action="auth.token_issued", obj=token,
                     after={"name": name, "prefix": token.prefix, "expires_at": token.expires_at})
    return IssuedToken(token=token, key=key)


def token_issue(*, user, name: str = "API sign-in") -> IssuedToken:
    """A new API token for a user who signed in through the API (`.key` is the key to send)."""
    return api_token_create(actor=user, name=name)


def api_token_authenticate(key: str) -> ApiToken:
    """The live token a key belongs to (with its user), or TokenRefused saying why not."""
    token = (ApiToken.objects.select_related("user").filter(key_sha256=token_digest(key or "")).first()
             if key else None)
    if token is None or not token.user.is_active:
        raise TokenRefused("Invalid API token.")
    now = timezone.now()
    reason = token.refusal(now)
    if reason:
        raise TokenRefused(reason)
    if token.last_used_at is None or now - token.last_used_at > _LAST_USED_GRANULARITY:
        # Usage bookkeeping, not a governed change: no audit event, and no lock (the last writer wins).
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token


def api_token_get(*, actor, token_id: int) -> ApiToken:
    """A token its owner or an admin may see; anyone else gets the same 404 as a missing one."""
    tokens = ApiToken.objects.select_related("user", "revoked_by")
    if not actor.is_staff:
        tokens = tokens.filter(user=actor)
    token = tokens.filter(pk=token_id).first()
    if token is None:
        raise NotFound("No such API token.")
    return token


def api_tokens_visible(*, actor):
    """The tokens the actor may list: their own; every token for an admin."""
    tokens = ApiToken.objects.select_related("user", "revoked_by")
    return tokens if actor.is_staff else tokens.filter(user=actor)


def api_token_revoke(*, actor, token: ApiToken) -> ApiToken:
    """Revoke a token (its owner or an admin). The key stops working at once; revoking twice is refused."""
    if token.user_id != actor.pk and not actor.is_staff:
        raise NotFound("No such API token.")
    with transaction.atomic(durable=True):
        revoked = _revoke(actor=actor, tokens=ApiToken.objects.filter(pk=token.pk), reason="revoked")
    if not revoked:
        raise Conflict("This API token was already revoked.")
    token.refresh_from_db()
    return token


def _revoke(*, actor, tokens, reason: str) -> int:
    """Revoke the live ones among `tokens`, one audit event each (inside the caller's transaction)."""
    now = timezone.now()
    revoked = 0
    # Compare-and-set on revoked_at: two revocations of one token write one event.
    for token in tokens.filter(revoked_at__isnull=True).select_for_update():
        if ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=now, revoked_by=actor):
            audit_record(actor=actor, action="auth.token_revoked", obj=token,
                         after={"owner": token.user.get_username(), "prefix": token.prefix, "reason": reason})
            revoked += 1
    return revoked


# --- sign-in lockouts ----------------------------------------------------------------------------------


def signin_lockout_record(*, username: str, ip_address: str) -> None:
    """Audit that sign-in was locked for this username from this address (django-axes decided it)."""
    with transaction.atomic():
        audit_record(actor=f"anonymous:{username}"[:150], action="auth.locked_out",
                     after={"username": username, "ip_address": ip_address,
                            "failures": settings.PLAYBOOK_SIGNIN_FAILURE_LIMIT,
                            "minutes": settings.PLAYBOOK_LOCKOUT_MINUTES})


def signin_lockout_lift(*, actor, attempt) -> None:
    """An admin lifts a lockout early: the failed attempts it counted are forgotten. Audited."""
    from axes.models import AccessAttempt

    if not actor.is_staff:
        raise NotFound("No such lockout.")
    with transaction.atomic():
        deleted, _ = AccessAttempt.objects.filter(pk=attempt.pk).delete()
        if not deleted:
            raise Conflict("This lockout was already lifted or has expired.")
        audit_record(actor=actor, action="auth.lockout_lifted", object_type="accessattempt",
                     object_id=str(attempt.pk),
                     after={"username": attempt.username, "ip_address": attempt.ip_address,
                            "failures": attempt.failures_since_start})


# --- users (admin and seed) ----------------------------------------------------------------------------

# Django admin runs every save in its own transaction, so the admin services below join it (plain atomic,
# not durable): the admin's change and its audit event still commit together or not at all.


def user_admin_save(*, actor, user, changed: list[str], is_new: bool) -> None:
    """Save a user edited in Django admin, auditing the change (staff status is a role change)."""
    watched = ["username", "email", "is_active", "is_staff", "is_superuser"]
    with transaction.atomic():
        user.save()
        visible = {name: getattr(user, name) for name in watched if name in changed or is_new}
        fields = sorted(set(changed) - {"password1", "password2", "groups", "user_permissions"})
        if is_new or fields:
            audit_record(actor=actor, action="user.created" if is_new else "user.changed", obj=user,
                         after={"fields": fields, **visible})
        if not is_new and {"is_active"} & set(changed) and not user.is_active:
            _revoke(actor=actor, tokens=user.api_tokens.all(), reason="account deactivated")


def user_admin_relations_save(*, actor, user, save_m2m) -> None:
    """Save the groups and permissions edited in admin (`save_m2m` writes them), auditing what changed."""
    def snapshot():
        return {"groups": sorted(user.groups.values_list("name", flat=True)),
                "user_permissions": sorted(user.user_permissions.values_list("codename", flat=True))}

    with transaction.atomic():
        before = snapshot()
        save_m2m()
        after = snapshot()
        if before != after:
            audit_record(actor=actor, action="user.groups_changed", obj=user, before=before, after=after)


def user_password_set(*, actor, user, password: str | None) -> int:
    """Set (or, with None, disable) a user's password for them: audited as `user.password_changed`, and every
    API token of the user is revoked (whoever knew the old password may have made one). Returns how many."""
    with transaction.atomic():
        if password is None:
            user.set_unusable_password()
        else:
            user.set_password(password)
        user.save(update_fields=["password"])
        revoked = _revoke(actor=actor, tokens=user.api_tokens.all(), reason="password changed")
        audit_record(actor=actor, action="user.password_changed", obj=user,
                     after={"usable": password is not None, "tokens_revoked": revoked})
    return revoked


def group_admin_save(*, actor, group, form, is_new: bool) -> None:
    """Save a group edited in admin (its name and permissions), audited with before and after."""
    def permissions():
        return sorted(group.permissions.values_list("codename", flat=True)) if group.pk else []

    with transaction.atomic():
        before = {"name": type(group).objects.filter(pk=group.pk).values_list("name", flat=True).first(),
                  "permissions": permissions()}
        group.save()
        form.save_m2m()
        after = {"name": group.name, "permissions": permissions()}
        if is_new or before != after:
            audit_record(actor=actor, action="group.created" if is_new else "group.changed",
                         object_type="group", object_id=str(group.pk), before=None if is_new else before,
                         after=after)


def group_admin_delete(*, actor, group) -> None:
    """Delete a group from admin: its members lose it; the event keeps who they were."""
    with transaction.atomic():
        members = sorted(group.user_set.values_list("username", flat=True))
        pk = group.pk
        audit_record(actor=actor, action="group.deleted", object_type="group", object_id=str(pk),
                     before={"name": group.name, "members": members})
        group.delete()


def user_create(*, actor, username: str, password: str, is_staff: bool = False, email: str = ""):
    """Create a user account (admins, the demo seed). Audited like every other change."""
    from django.contrib.auth import get_user_model

    User = get_user_model()
    with transaction.atomic(durable=True):
        if User.objects.filter(username=username).exists():
            raise Conflict(f"A user named {username!r} already exists.")
        user = User.objects.create_user(username=username, password=password, email=email,
                                        is_staff=is_staff, is_superuser=is_staff)
        audit_record(actor=actor or "system", action="user.created", obj=user,
                     after={"username": username, "is_staff": is_staff})
    return user
