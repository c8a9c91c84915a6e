from importlib import import_module

from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "apps.accounts"
    label = "accounts"

    def ready(self):
        # Connects the lockout audit to django-axes' user_locked_out signal.
        import_module("apps.accounts.signals")
