from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "apps.notifications"
    label = "notifications"

    def ready(self):
        from apps.audit.services import event_committed
        from apps.notifications.services import on_event_committed

        # Notifications are derived from the audit trail: no service calls this app, it listens.
        event_committed.connect(on_event_committed, dispatch_uid="notifications.on_event_committed")
