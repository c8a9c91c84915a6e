from django.conf import settings
from django.db import models
from django.utils import timezone


class Role(models.TextChoices):
    MODEL_OWNER = "model_owner", "Model owner"
    DATA_OWNER = "data_owner", "Data owner"
    SIGNOFF_OWNER = "signoff_owner", "Sign-off owner"


class Membership(models.Model):
    """One role held by one person on one project. A person may hold several roles (one row each)."""

    project = models.ForeignKey("playbook.Project", on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=20, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "user", "role"], name="accounts_membership_unique_role"),
        ]
        ordering = ["project_id", "role", "created_at"]

    def __str__(self):
        return f"{self.user} as {self.get_role_display()} on {self.project}"


class ApiToken(models.Model):
    """A person's key for the REST API (`Authorization: Token <key>`).

    Only the SHA-256 digest of the key is stored; the key itself is shown once, when the token is made.
    `prefix` (the key's first characters) is kept in clear so people can tell their tokens apart. A token
    works until `expires_at` or until it is revoked; `last_used_at` is refreshed at most once a minute."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=120)
    prefix = models.CharField(max_length=16)
    key_sha256 = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    expires_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                   related_name="+")

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # The token list of a person shows their live tokens first.
            models.Index(fields=["user", "revoked_at"], name="accounts_apitoken_user_live"),
        ]

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"

    def refusal(self, now) -> str:
        """Why this token no longer opens the API ("" when it does)."""
        if self.revoked_at is not None:
            return "This API token was revoked."
        if self.expires_at <= now:
            return "This API token has expired."
        return ""
