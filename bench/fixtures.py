"""What each run prepares on top of the data set: logged-in sessions, fresh access codes for the
redemption POST, the invitation links of the landing page, and fresh offices for the invite
POSTs. Also undoes what the previous run left behind, so the data set keeps its shape."""

from __future__ import annotations

import secrets
import string
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

from django.conf import settings
from django.db import connection, transaction

from bench.dataset import CODE_COLUMNS, Ids, _copy, _reset_identity, code_row

REDEEM_KEY_PREFIX = "bench-redeem-"
INVITE_OFFICE_PREFIX = "Bench invite office"


@dataclass(frozen=True)
class Session:
    """A logged-in browser: the cookie header to send, and its CSRF token for form posts."""

    user_id: int
    cookie: str
    csrf: str


def new_csrf_token() -> str:
    # Django accepts the 32-character secret itself as the form token (unmasked).
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(32))


def session_for(user_id: int, *, two_factor: bool) -> Session:
    """A session made as a real login makes it (django.contrib.auth.login), with the verified
    second factor django-otp records after the TOTP step (as tests/conftest.py verified_login)."""
    from django.test import Client
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from outsmart.accounts.models import User

    user = User.objects.get(pk=user_id)
    client = Client()
    client.force_login(user)
    if two_factor:
        device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
        if device is None:
            device = TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=True)
        session = client.session
        session[DEVICE_ID_SESSION_KEY] = device.persistent_id
        session.save()
    session_id = client.cookies[settings.SESSION_COOKIE_NAME].value
    csrf = new_csrf_token()
    cookie = f"{settings.SESSION_COOKIE_NAME}={session_id}; {settings.CSRF_COOKIE_NAME}={csrf}"
    return Session(user_id=user.pk, cookie=cookie, csrf=csrf)


def anonymous_session(data: dict) -> Session:
    """A browser without an account whose session holds `data` (an opened invitation link)."""
    from importlib import import_module

    store = import_module(settings.SESSION_ENGINE).SessionStore()
    store.update(data)
    store.save()
    csrf = new_csrf_token()
    cookie = (
        f"{settings.SESSION_COOKIE_NAME}={store.session_key}; {settings.CSRF_COOKIE_NAME}={csrf}"
    )
    return Session(user_id=0, cookie=cookie, csrf=csrf)


def invitation_opened_sessions(ids: Ids, count: int) -> list[Session]:
    """Browsers that opened the link of one of the big office's pending invitations: what the
    link's redirect leaves in the session (invitations.views.landing)."""
    from invitations.models import Invitation
    from invitations.views import LINK_SESSION_KEY

    pending = Invitation.objects.pending().filter(office_id=ids.big_office).order_by("id")
    return [
        anonymous_session(
            {LINK_SESSION_KEY: {"id": inv.pk, "digest": inv.token_digest, "at": time.time()}}
        )
        for inv in pending[:count]
    ]


def cleanup_previous(ids: Ids) -> None:
    """Take back what earlier runs added that would change the measured pages: the
    redeemer's grants and the unused redemption codes. (Audit events stay: the log is
    append-only, in the database too.)"""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM portal_portalaccess WHERE user_id = %s", [ids.redeemer])
        cursor.execute(
            "DELETE FROM accesscodes_accesscode WHERE issued_by_id = %s AND issue_key LIKE %s",
            [ids.redeem_issuer, REDEEM_KEY_PREFIX + "%"],
        )
        # Fan-out invitations of earlier runs: closed, so the fan-out office starts empty.
        cursor.execute(
            "UPDATE invitations_invitation SET status = 'revoked' "
            "WHERE office_id = %s AND status = 'pending' AND email LIKE 'fanout-%%'",
            [ids.fanout_office],
        )


def drop_unused_redemption_codes(ids: Ids) -> None:
    """The fresh codes a round did not use: gone, so the active codes keep their number."""
    with connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM accesscodes_accesscode WHERE issued_by_id = %s AND issue_key LIKE %s "
            "AND status = 'active'",
            [ids.redeem_issuer, REDEEM_KEY_PREFIX + "%"],
        )


def issue_redemption_codes(ids: Ids, count: int, path: Path, batch: str) -> int:
    """`count` fresh Medical Records Access Codes of the big office's patients (with a date of
    birth), each written to `path` as the urlencoded +Access Code form it takes to redeem it:
    the four words and the patient's date of birth. The CSRF token is added by the Lua script."""
    from accesscodes.words import code_generate
    from records.models import Patient

    patients = list(
        Patient.objects.filter(office_id=ids.big_office, date_of_birth__isnull=False)
        .order_by("id")
        .values_list("id", "date_of_birth")
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT coalesce(max(id), 0) FROM accesscodes_accesscode")
        first_id = cursor.fetchone()[0] + 1
    now = datetime.now(UTC)
    rows, bodies, seen = [], [], set()
    for n in range(count):
        code = code_generate()
        while code in seen:
            code = code_generate()
        seen.add(code)
        patient_id, born = patients[(n * 7 + len(batch) * 13) % len(patients)]
        rows.append(
            code_row(
                code_id=first_id + n,
                kind="medical_records",
                code=code,
                status="active",
                issued_at=now,
                issuer=ids.redeem_issuer,
                office=ids.big_office,
                patient=patient_id,
                issue_key=f"{REDEEM_KEY_PREFIX}{batch}-{n}",
            )
        )
        words = code.split(" ")
        fields = {f"code_{i}": word for i, word in enumerate(words, start=1)}
        fields["date_of_birth"] = born.isoformat()
        bodies.append(urlencode(fields))
    with transaction.atomic():
        _copy("accesscodes_accesscode", CODE_COLUMNS, rows)
        _reset_identity("accesscodes_accesscode")
    path.write_text("\n".join(bodies) + "\n")
    return len(rows)


def landing_paths(ids: Ids) -> list[str]:
    """The links in the big office's pending invitation emails (the tokens are rebuilt from the
    rows' nonces, as the worker does when it sends them)."""
    from django.urls import reverse

    from invitations.models import Invitation

    pending = Invitation.objects.pending().filter(office_id=ids.big_office).order_by("id")
    return [reverse("invitee:landing", args=[inv.token]) for inv in pending]


def patient_paths(ids: Ids, limit: int = 500) -> list[str]:
    return [f"/patients/{pid}/" for pid in ids.patients[ids.big_office][:limit]]


def invite_admins(count: int, tag: str) -> list[int]:
    """Fresh offices, two admins each, for the invite POSTs of one run: the app allows 50
    invitations per office a day and 20 per admin an hour (counted from the append-only audit
    log), so a run cannot reuse the last run's offices."""
    from offices.models import Membership, Office
    from outsmart.accounts.models import User

    admins = []
    with transaction.atomic():
        for k in range((count + 1) // 2):
            office = Office.objects.create(
                name=f"{INVITE_OFFICE_PREFIX} {tag}-{k}",
                setup_completed_at=datetime.now(UTC),
            )
            for j in range(2):
                user = User.objects.create_user(
                    f"admin{j}.{tag}-{k}@invite.bench.example",
                    first_name="Invite",
                    last_name=f"Admin {k}-{j}",
                )
                Membership.objects.create(
                    office=office, user=user, role="practitioner", is_admin=True
                )
                admins.append(user.pk)
    return admins[:count]


def run_tag() -> str:
    return time.strftime("%Y%m%d%H%M%S") + secrets.token_hex(2)
