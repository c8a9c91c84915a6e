from django.db import transaction
from rest_framework.authtoken.models import Token

from apps.audit.services import audit_record


def token_issue(*, user) -> Token:
    """The user's API token (created on first use); signing in through the API is audited like any sign-in."""
    with transaction.atomic(durable=True):
        token, created = Token.objects.get_or_create(user=user)
        audit_record(actor=user, action="auth.token_issued" if created else "auth.signed_in_api", obj=user)
    return token


def user_admin_save(*, actor, user, changed: list[str], is_new: bool) -> None:
    """Save a user edited in Django admin, auditing the change (staff status is a role change)."""
    watched = ["username", "email", "is_active", "is_staff", "is_superuser", "groups", "user_permissions"]
    with transaction.atomic(durable=True):
        user.save()
        visible = {name: getattr(user, name) for name in watched[:5] if name in changed or is_new}
        audit_record(actor=actor, action="user.created" if is_new else "user.changed", obj=user,
                     after={"fields": sorted(set(changed) - {"password1", "password2"}), **visible,
                            "password_changed": bool({"password", "password1"} & set(changed))})


def user_create(*, actor, username: str, password: str, is_staff: bool = False, email: str = ""):
    """Create a user account (admins, the demo seed). Audited like every other change."""
    from django.contrib.auth import get_user_model

    from apps.core.errors import Conflict

    User = get_user_model()
    with transaction.atomic(durable=True):
        if User.objects.filter(username=username).exists():
            raise Conflict(f"A user named {username!r} already exists.")
        user = User.objects.create_user(username=username, password=password, email=email,
                                        is_staff=is_staff, is_superuser=is_staff)
        audit_record(actor=actor or "system", action="user.created", obj=user,
                     after={"username": username, "is_staff": is_staff})
    return user
