from django.conf import settings
from django.db import models


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
