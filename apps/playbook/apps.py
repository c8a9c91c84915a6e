from django.apps import AppConfig


class PlaybookConfig(AppConfig):
    name = "apps.playbook"
    label = "playbook"
