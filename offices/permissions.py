"""The one access rule for clinic views: named permissions, and which roles hold them."""

from __future__ import annotations

from enum import StrEnum

from offices.models import Membership, Role


class Perm(StrEnum):
    VIEW_OFFICE = "can_view_office"
    MANAGE_TEAM = "can_manage_team"
    EDIT_OFFICE = "can_edit_office"
    VIEW_SCHEDULE = "can_view_schedule"
    VIEW_PATIENTS = "can_view_patients"
    ISSUE_MEDICAL_RECORDS_CODES = "can_issue_medical_records_codes"
    SEND_SMART_FORMS = "can_send_smart_forms"


ADMIN_PERMISSIONS = frozenset(Perm)
ROLE_PERMISSIONS: dict[str, frozenset[Perm]] = {
    Role.PRACTITIONER: frozenset(
        {
            Perm.VIEW_OFFICE,
            Perm.VIEW_SCHEDULE,
            Perm.VIEW_PATIENTS,
            Perm.ISSUE_MEDICAL_RECORDS_CODES,
            Perm.SEND_SMART_FORMS,
        }
    ),
    Role.STAFF: frozenset(
        {Perm.VIEW_OFFICE, Perm.VIEW_SCHEDULE, Perm.VIEW_PATIENTS, Perm.SEND_SMART_FORMS}
    ),
}


def membership_permissions(membership: Membership | None) -> frozenset[Perm]:
    if membership is None or not membership.is_active:
        return frozenset()
    if membership.is_admin:
        return ADMIN_PERMISSIONS
    return ROLE_PERMISSIONS.get(membership.role, frozenset())


def has_perm(membership: Membership | None, perm: Perm) -> bool:
    return perm in membership_permissions(membership)
