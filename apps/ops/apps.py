from django.apps import AppConfig


class OpsConfig(AppConfig):
    """Operator commands that compose every app: demo, seed_demo, testsuite."""

    name = "apps.ops"
    label = "ops"
