from axes.signals import user_locked_out
from django.dispatch import receiver

from apps.accounts.services import signin_lockout_record


@receiver(user_locked_out)
def _locked_out(sender, request, username, ip_address, **kwargs):
    # django-axes sends this when the failures reach the limit and again on every try during the lockout.
    # Only the first is a new lockout: that is the try on which axes counted failures
    # (with AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT off, tries during a lockout are not counted).
    if getattr(request, "axes_failures_since_start", None) is None:
        return
    signin_lockout_record(username=str(username or "")[:100], ip_address=str(ip_address or ""))
