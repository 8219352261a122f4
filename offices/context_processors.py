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
        from offices.models import Membership

        return list(
            Membership.objects.active()
            .filter(user=user)
            .select_related("office")
            .order_by("office__name", "office_id")
        )

    def current():
        membership = getattr(request, "membership", None)
        if membership is not None:
            return membership
        from offices.access import SESSION_KEY

        mine = memberships()
        selected = request.session.get(SESSION_KEY) if hasattr(request, "session") else None
        return next((m for m in mine if m.office_id == selected), mine[0] if mine else None)

    return {
        "clinic_memberships": SimpleLazyObject(memberships),
        "current_membership": SimpleLazyObject(current),
    }
