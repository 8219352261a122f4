"""Access-code reads for the clinic: a patient's codes as the patient page lists them."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Exists, OuterRef

from accesscodes.models import AccessCode
from offices.models import Office
from records.models import Patient


@dataclass(frozen=True)
class CodeRow:
    """One code on the patient page, with what can still be done with it (whoever asks;
    the view adds who may)."""

    code: AccessCode
    status: str  # effective: an active code past its expiry is expired
    cancellable: bool  # it still opens something: the code itself, or portal access it gave
    reissuable: bool
    takes_back_access: bool  # cancelling it also ends portal access it gave

    @property
    def kind(self) -> str:
        return self.code.kind


# What the rows show of the people and the Smart Form request a code points to. Loading only
# these (not three whole users with their password hashes, nor a form's questions and answers)
# halves the cost of building a patient's list of codes (bench/).
_PERSON = ("first_name", "last_name", "email")
_SHOWN = (
    "office_id",
    "patient_id",
    "form_request_id",
    "kind",
    "status",
    "issued_at",
    "expires_at",
    "issued_by_id",
    "replaces_id",
    "channel",
    "address",
    "delivery_state",
    "delivery_attempts",
    "delivery_error",
    "sent_at",
    "redeemed_at",
    "redeemed_by_id",
    "cancelled_at",
    "cancelled_by_id",
    "cancel_reason",
    *(
        f"{person}__{field}"
        for person in ("issued_by", "redeemed_by", "cancelled_by")
        for field in _PERSON
    ),
    "form_request__title",
    "form_request__status",
)


def _codes(*, with_patient: bool = True):
    """Codes with what the patient page shows of them. `with_patient=False` when the caller
    already holds the patient (its list of codes): then only the shown columns are loaded."""
    from portal.models import PortalAccess

    open_access = PortalAccess.objects.filter(access_code=OuterRef("pk"), revoked_at=None)
    replaced = AccessCode.objects.filter(replaces=OuterRef("pk"))
    codes = AccessCode.objects.select_related(
        "issued_by", "redeemed_by", "cancelled_by", "form_request"
    ).annotate(has_open_access=Exists(open_access), is_replaced=Exists(replaced))
    if not with_patient:
        return codes.only(*_SHOWN)
    return codes.select_related("patient").defer(
        "sealed",
        "code_digest",
        "link_digest",
        "form_request__questions",
        "form_request__answers",
        "form_request__instructions",
    )


def _row(code: AccessCode) -> CodeRow:
    from accesscodes.services import reissue_problem

    status = code.effective_status
    return CodeRow(
        code=code,
        status=status,
        cancellable=status == AccessCode.Status.ACTIVE or code.has_open_access,
        reissuable=not reissue_problem(code),
        takes_back_access=code.has_open_access,
    )


def patient_access_codes(patient: Patient) -> list[CodeRow]:
    """Every code of the patient, newest first, in one query whatever their number: who issued,
    redeemed and cancelled it, its Smart Form's title, whether a newer code replaced it and
    whether portal access it gave is still open."""
    codes = _codes(with_patient=False).filter(patient=patient, office_id=patient.office_id)
    rows = []
    for code in codes.order_by("-issued_at", "-id"):
        code.patient = patient
        rows.append(_row(code))
    return rows


def office_access_code(office: Office, code_id: int) -> CodeRow | None:
    """One code of the office, as the patient page shows it; None for another office's."""
    code = _codes().filter(office=office, pk=code_id).first()
    return _row(code) if code is not None else None
