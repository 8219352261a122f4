from django.utils.functional import SimpleLazyObject

from invitations.selectors import user_pending_invitations


def pending(request):
    """`pending_invitations`: shown as a banner on every page, so an invitee sees a new
    invitation at once, without logging out and in again. Queried only when a page uses it."""
    user = getattr(request, "user", None)
    if user is None:
        return {}
    return {"pending_invitations": SimpleLazyObject(lambda: user_pending_invitations(user))}
