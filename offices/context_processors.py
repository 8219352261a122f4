from django.utils.functional import SimpleLazyObject


def clinic(request):
    """The person's live memberships for the header (office name, switcher, clinic nav).
    Views behind `office_view` already loaded them; elsewhere one query, only when used."""

    def memberships():
        loaded = getattr(request, "clinic_memberships", None)
        if loaded is not None:
            return loaded
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return []
        from offices.selectors import user_active_memberships

        return user_active_memberships(user)

    def current():
        membership = getattr(request, "membership", None)
        if membership is not None:
            return membership
        from offices.access import SESSION_KEY, select_membership

        session = getattr(request, "session", None)
        return select_membership(memberships(), session.get(SESSION_KEY) if session else None)

    return {
        "clinic_memberships": SimpleLazyObject(memberships),
        "current_membership": SimpleLazyObject(current),
    }
