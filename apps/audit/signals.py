from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from apps.audit.services import auth_event_record


@receiver(user_logged_in)
def _signed_in(sender, request, user, **kwargs):
    auth_event_record(user=user, action="auth.signed_in")


@receiver(user_logged_out)
def _signed_out(sender, request, user, **kwargs):
    if user is not None:
        auth_event_record(user=user, action="auth.signed_out")


@receiver(user_login_failed)
def _sign_in_failed(sender, credentials, request=None, **kwargs):
    auth_event_record(user=None, action="auth.sign_in_failed", username=str(credentials.get("username", ""))[:100])
