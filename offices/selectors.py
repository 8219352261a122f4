from __future__ import annotations

from django.db.models import QuerySet

from offices.models import Office


def user_offices_requiring_two_factor(user) -> QuerySet[Office]:
    return Office.objects.filter(
        memberships__user=user, memberships__removed_at__isnull=True, require_two_factor=True
    )
