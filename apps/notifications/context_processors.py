from django.utils.functional import SimpleLazyObject

from apps.notifications.selectors import unread_count


def inbox(request):
    """The nav badge's unread count: one query, and only when a template shows it."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"notifications_unread": SimpleLazyObject(lambda: unread_count(user))}
