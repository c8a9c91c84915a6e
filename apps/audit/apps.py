from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "apps.audit"
    label = "audit"

    def ready(self):
        from apps.audit import signals  # noqa: F401  (sign-in, sign-out and failed sign-in events)
