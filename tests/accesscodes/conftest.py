"""Access-code fixtures: a patient on file with a date of birth, and issuing through the service."""

from __future__ import annotations

from datetime import date

import pytest
from django.db import connection

from accesscodes.models import AccessCode
from outsmart import sms
from tests.factories import PatientFactory, form_request_for, issue_code

ANNA_DOB = date(1984, 3, 9)
WRONG_DOB = date(1984, 9, 3)
ANNA_EMAIL = "anna.smith@example.net"
ANNA_MOBILE = "+15145550123"


def copy_codes(template: AccessCode, n: int, *, first: int, expires_at, status="active", sealed=""):
    """`n` copies of `template` with made-up digests, written by one INSERT ... SELECT: fast
    enough for 100,000 rows, and it follows the model's columns."""
    columns = [
        field.column
        for field in AccessCode._meta.concrete_fields
        if field.column
        not in {"id", "code_digest", "link_digest", "expires_at", "status", "sealed"}
    ]
    names = ", ".join(f'"{column}"' for column in columns)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO accesscodes_accesscode ({names}, code_digest, link_digest, "  # noqa: S608
            "expires_at, status, sealed) "
            f"SELECT {names}, lpad(to_hex(g), 64, '0'), 'l' || lpad(to_hex(g), 63, '0'), "
            "%s, %s, %s FROM accesscodes_accesscode, generate_series(%s, %s) AS g WHERE id = %s",
            [expires_at, status, sealed, first, first + n - 1, template.pk],
        )


@pytest.fixture(autouse=True)
def _sms_outbox():
    sms.outbox.clear()
    yield
    sms.outbox.clear()


@pytest.fixture
def anna(office):
    """A patient on file at the Lakeside Clinic (records.Patient, not a portal account)."""
    return PatientFactory(
        office=office,
        first_name="Anna",
        last_name="Smith",
        date_of_birth=ANNA_DOB,
        email=ANNA_EMAIL,
        mobile_phone=ANNA_MOBILE,
    )


@pytest.fixture
def form_request(anna, practitioner):
    return form_request_for(anna, practitioner)


@pytest.fixture
def issue(anna, practitioner):
    """issue(**kwargs): a code for Anna, issued by the practitioner (by phone unless told)."""

    def issue(**kwargs):
        kwargs.setdefault("patient", anna)
        kwargs.setdefault("actor", practitioner)
        return issue_code(**kwargs)

    return issue
