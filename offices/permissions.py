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
    EDIT_PATIENTS = "can_edit_patients"
    MANAGE_SCHEDULE = "can_manage_schedule"
    WRITE_TREATMENT_PLANS = "can_write_treatment_plans"
    UPLOAD_DOCUMENTS = "can_upload_documents"
    MANAGE_SMART_FORMS = "can_manage_smart_forms"


ADMIN_PERMISSIONS = frozenset(Perm)
ROLE_PERMISSIONS: dict[str, frozenset[Perm]] = {
    Role.PRACTITIONER: frozenset(
        {
            Perm.VIEW_OFFICE,
            Perm.VIEW_SCHEDULE,
            Perm.VIEW_PATIENTS,
            Perm.ISSUE_MEDICAL_RECORDS_CODES,
            Perm.SEND_SMART_FORMS,
            Perm.EDIT_PATIENTS,
            Perm.MANAGE_SCHEDULE,
            Perm.WRITE_TREATMENT_PLANS,
            Perm.UPLOAD_DOCUMENTS,
            Perm.MANAGE_SMART_FORMS,
        }
    ),
    # Front desk: patients' details, the schedule, documents and forms; clinical writing
    # (treatment plans, form templates) and medical-records codes are practitioners'.
    Role.STAFF: frozenset(
        {
            Perm.VIEW_OFFICE,
            Perm.VIEW_SCHEDULE,
            Perm.VIEW_PATIENTS,
            Perm.SEND_SMART_FORMS,
            Perm.EDIT_PATIENTS,
            Perm.MANAGE_SCHEDULE,
            Perm.UPLOAD_DOCUMENTS,
        }
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
