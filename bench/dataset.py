"""The bench data set: built once per shape with COPY (rows made here, with explicit ids, so the
relations are plain arithmetic), and reused while the marker table says it has the same shape.

Digests of codes and invitation tokens come from the app's own functions (accesscodes.services,
invitations.models, outsmart.tokens), keyed with the bench's ACCESS_CODE_SECRET, so the codes
and links the load generator uses are found exactly as production finds them. The per-patient
Smart Form questions are the ones `smart_forms_install_defaults` gives every office.

Runs inside the driver after django.setup().
"""

from __future__ import annotations

import json
import random
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from django.db import connection, transaction

from bench.config import Shape

MARKER_TABLE = "bench_dataset"
PASSWORD = "bench password never used to log in"  # noqa: S105 - sessions are made directly

_FIRST = (
    "Olivia Liam Emma Noah Amelia Oliver Ava Elijah Sophia Lucas Mia Levi Isabella Mateo "
    "Charlotte Ethan Harper Benjamin Evelyn James Abigail Henry Emily Jack Ella Leo Luna "
    "Samuel Chloe William Zoe Daniel Nora Owen Lily Jacob Hannah Gabriel Aria Carter Layla "
    "Wyatt Riley Julian Nova Isaac Aurora Anthony Ellie Dylan Grace Thomas Stella Aaron Lucy "
    "Nathan Violet Adam Hazel Noor Amir Priya Arjun Mei Wei Sofia Diego Fatima Omar Yuki "
    "Hiro Ines Marc Chantal Etienne Josee Pierre Ana Rafael Lea Hugo"
)
_LAST = (
    "Smith Brown Tremblay Martin Roy Wilson MacDonald Gagnon Johnson Taylor Cote Campbell "
    "Anderson Leblanc Lee Jones White Williams Miller Thompson Gauthier Young Van Morin "
    "Bouchard Scott Stewart Belanger Reid Pelletier Moore Lavoie King Robinson Levesque "
    "Murphy Fortin Gagne Wong Clark Johnston Clarke Ross Walker Thomas Boucher Landry Kelly "
    "Bergeron Singh Patel Chen Nguyen Kim Ali Khan Garcia Rodriguez Lopez Hernandez Ito "
    "Tanaka Muller Schmidt Rossi Russo Dubois Lambert Girard Fournier Mercier Blanc Ouellet"
)
FIRST_NAMES = tuple(_FIRST.split())
LAST_NAMES = tuple(_LAST.split())
TIME_ZONES = ("America/Toronto", "America/Vancouver", "America/Edmonton", "America/Halifax")
AUDIT_ACTIONS = (
    "patient.viewed",
    "patient.viewed",
    "patient.viewed",
    "access_code.issued",
    "appointment.created",
    "document.uploaded",
    "patient.updated",
    "form_request.created",
)


# --- who is who: ids are assigned here and used by the run -----------------------------------
@dataclass
class Ids:
    """Ids of the rows a run needs by name; the rest follows from the shape."""

    big_office: int = 1
    small_office: int = 2
    fanout_office: int = 3
    big_admin: int = 0
    small_admin: int = 0
    fanout_admin: int = 0
    redeem_issuer: int = 0
    three_clinics: int = 0  # portal account with medical-records grants at three clinics
    one_clinic: int = 0  # portal account with one grant (the dashboard at the small end)
    redeemer: int = 0  # portal account that redeems the fresh codes (+Access Code)
    members: dict[int, list[tuple[int, str, bool]]] = field(default_factory=dict)
    # office id -> [patient id]
    patients: dict[int, list[int]] = field(default_factory=dict)


class _Seq:
    def __init__(self) -> None:
        self.value = 0

    def __call__(self) -> int:
        self.value += 1
        return self.value


def _model_defaults(table: str, columns: Sequence[str]) -> tuple[list[str], tuple]:
    """Columns of `table` the bench does not fill and the database cannot leave empty, with
    their model defaults: a field added by a later migration needs no change here."""
    from django.apps import apps

    model = next((m for m in apps.get_models() if m._meta.db_table == table), None)
    if model is None:
        return [], ()
    extra = [
        f
        for f in model._meta.concrete_fields
        if f.column not in columns and not f.null and not f.primary_key
    ]
    return [f.column for f in extra], tuple(
        f.get_db_prep_save(f.get_default(), connection) for f in extra
    )


def _copy(table: str, columns: Sequence[str], rows: Iterable[Sequence]) -> int:
    count = 0
    extra_columns, extra_values = _model_defaults(table, columns)
    cols = ", ".join(f'"{c}"' for c in [*columns, *extra_columns])
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(f'COPY "{table}" ({cols}) FROM STDIN') as copy,
    ):
        for row in rows:
            copy.write_row((*row, *extra_values))
            count += 1
    return count


def _reset_identity(table: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT setval(pg_get_serial_sequence('\"{table}\"', 'id'), "  # noqa: S608
            f'coalesce((SELECT max(id) FROM "{table}"), 0) + 1, false)'
        )


# --- the marker ----------------------------------------------------------------------------
def marker() -> dict | None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s)", [MARKER_TABLE])
        if cursor.fetchone()[0] is None:
            return None
        cursor.execute(f"SELECT shape, ids FROM {MARKER_TABLE} ORDER BY built_at DESC LIMIT 1")  # noqa: S608
        row = cursor.fetchone()
    if row is None:
        return None
    shape, ids = row
    return {
        "shape": shape if isinstance(shape, dict) else json.loads(shape),
        "ids": ids if isinstance(ids, dict) else json.loads(ids),
    }


def ids_from_marker(data: dict) -> Ids:
    raw = data["ids"]
    ids = Ids(**{k: v for k, v in raw.items() if k not in {"members", "patients"}})
    ids.members = {int(k): [tuple(m) for m in v] for k, v in raw["members"].items()}
    ids.patients = {int(k): v for k, v in raw["patients"].items()}
    return ids


def _write_marker(shape: Shape, ids: Ids, seconds: float) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TABLE IF NOT EXISTS {MARKER_TABLE} "
            "(shape jsonb NOT NULL, ids jsonb NOT NULL, built_at timestamptz NOT NULL, "
            "seconds double precision NOT NULL)"
        )
        cursor.execute(
            f"INSERT INTO {MARKER_TABLE} VALUES (%s, %s, now(), %s)",  # noqa: S608
            [json.dumps(shape.as_dict()), json.dumps(ids.__dict__), seconds],
        )


# --- building ------------------------------------------------------------------------------
def build(shape: Shape, log) -> Ids:
    """Fill an empty, migrated database with the data set of `shape`."""
    from django.contrib.auth.hashers import make_password

    started = time.monotonic()
    rng = random.Random(8)  # noqa: S311 - the same data set every time for the same shape
    now = datetime.now(UTC)
    ids = Ids()
    password = make_password(PASSWORD)

    with transaction.atomic():
        offices = _offices(shape, now)
        users, members = _users_and_members(shape, rng, now, password, ids)
        _copy(
            "accounts_user",
            [
                "id",
                "password",
                "is_superuser",
                "email",
                "first_name",
                "last_name",
                "is_active",
                "is_staff",
                "date_joined",
            ],
            ((u[0], password, False, u[1], u[2], u[3], True, False, now) for u in users),
        )
        _copy(
            "account_emailaddress",
            ["id", "email", "verified", "primary", "user_id"],
            ((u[0], u[1], True, True, u[0]) for u in users),
        )
        _copy(
            "offices_office",
            [
                "id",
                "name",
                "address",
                "phone",
                "time_zone",
                "require_two_factor",
                "setup_completed_at",
                "created_at",
            ],
            offices,
        )
        _copy(
            "offices_membership",
            [
                "id",
                "role",
                "is_admin",
                "joined_at",
                "removed_at",
                "removed_by_id",
                "user_id",
                "office_id",
            ],
            members,
        )
        log(f"  {len(users)} users, {len(offices)} offices, {len(members)} memberships")
        _invitations(shape, rng, now, ids)
        _patients(shape, rng, now, ids)
        forms = _smart_forms(ids)
        form_requests = _records(shape, rng, now, ids, forms, log)
        _codes_and_grants(shape, rng, now, ids, form_requests, log)
        _audit(shape, rng, now, ids)
        for table in (
            "accounts_user",
            "account_emailaddress",
            "offices_office",
            "offices_membership",
            "invitations_invitation",
            "records_patient",
            "records_formrequest",
            "records_appointment",
            "records_document",
            "records_treatmentplan",
            "accesscodes_accesscode",
            "portal_portalaccess",
            "audit_auditevent",
        ):
            _reset_identity(table)
        _write_marker(shape, ids, time.monotonic() - started)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    log(f"  data set built in {time.monotonic() - started:.0f} s")
    return ids


def _offices(shape: Shape, now: datetime) -> list[tuple]:
    names = {1: "Big Bench Clinic", 2: "Small Bench Clinic", 3: "Fan-out Bench Clinic"}
    return [
        (
            n,
            names.get(n, f"Bench Clinic {n:02d}"),
            f"{n} Bench Street",
            "+1 416 555 0100",
            TIME_ZONES[n % len(TIME_ZONES)],
            True,
            now - timedelta(days=400),
            now - timedelta(days=400),
        )
        for n in range(1, shape.offices + 1)
    ]


def _users_and_members(shape, rng, now, password, ids: Ids):
    users: list[tuple[int, str, str, str]] = []
    members: list[tuple] = []
    user_id = _Seq()
    member_id = _Seq()

    def person(email: str) -> int:
        uid = user_id()
        users.append((uid, email, rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)))
        return uid

    for office in range(1, shape.offices + 1):
        count = {1: shape.big_members, 2: shape.small_members}.get(office, shape.members_per_office)
        ids.members[office] = []
        for k in range(count):
            uid = person(f"member{k}@office{office}.bench.example")
            role = "practitioner" if k % 5 < 2 else "staff"
            is_admin = k == 0
            members.append(
                (member_id(), role, is_admin, now - timedelta(days=300), None, None, uid, office)
            )
            ids.members[office].append((uid, role, is_admin))
        if office == 1:
            # People who left: kept as removed memberships, never shown on the tab.
            for k in range(shape.big_members // 15):
                uid = person(f"former{k}@office1.bench.example")
                members.append(
                    (
                        member_id(),
                        "staff",
                        False,
                        now - timedelta(days=300),
                        now - timedelta(days=30),
                        ids.members[1][0][0],
                        uid,
                        office,
                    )
                )
    ids.big_admin = ids.members[1][0][0]
    ids.small_admin = ids.members[2][0][0]
    ids.fanout_admin = ids.members[3][0][0]
    ids.redeem_issuer = next(uid for uid, role, _ in ids.members[1][1:] if role == "practitioner")
    for k in range(shape.portal_accounts):
        person(f"patient{k}@portal.bench.example")
    ids.three_clinics = person("three.clinics@portal.bench.example")
    ids.one_clinic = person("one.clinic@portal.bench.example")
    ids.redeemer = person("redeemer@portal.bench.example")
    return users, members


def _invitations(shape: Shape, rng, now, ids: Ids) -> None:
    from invitations.models import TOKEN_PURPOSE, token_digest
    from outsmart.tokens import derived_token, new_nonce

    rows = []
    seq = _Seq()
    for office, members in ids.members.items():
        admin = members[0][0]
        pending = {1: shape.big_pending, 2: shape.small_members}.get(office, 5)
        for k in range(pending + pending // 2):
            nonce = new_nonce()
            status = "pending" if k < pending else rng.choice(("accepted", "expired", "revoked"))
            created = now - timedelta(days=rng.uniform(0.5, 13) if status == "pending" else 60)
            rows.append(
                (
                    seq(),
                    f"invitee{k}@office{office}.invites.bench.example",
                    "",
                    "",
                    "practitioner" if k % 3 == 0 else "staff",
                    False,
                    nonce,
                    token_digest(derived_token(TOKEN_PURPOSE, nonce)),
                    status,
                    created,
                    created + timedelta(days=14),
                    None if status == "pending" else created + timedelta(days=2),
                    "sent",
                    1,
                    "",
                    created,
                    created,
                    admin,
                    office,
                    None,
                )
            )
    _copy(
        "invitations_invitation",
        [
            "id",
            "email",
            "name",
            "message",
            "role",
            "is_admin",
            "token_nonce",
            "token_digest",
            "status",
            "created_at",
            "expires_at",
            "responded_at",
            "delivery_state",
            "delivery_attempts",
            "delivery_error",
            "delivery_due_at",
            "sent_at",
            "invited_by_id",
            "office_id",
            "responded_by_id",
        ],
        rows,
    )


def _patients(shape: Shape, rng, now, ids: Ids) -> None:
    rows = []
    others = list(range(2, shape.offices + 1))
    rest = shape.patients - shape.big_patients
    for pid in range(1, shape.patients + 1):
        if pid <= shape.big_patients:
            office = 1
        else:
            office = others[(pid - shape.big_patients - 1) * len(others) // max(rest, 1)]
        ids.patients.setdefault(office, []).append(pid)
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        # One in a hundred has no date of birth on file (the page says so, codes need it).
        born = None if pid % 100 == 99 else date(1930, 1, 1) + timedelta(days=rng.randrange(32000))
        rows.append(
            (
                pid,
                first,
                last,
                born,
                f"{first}.{last}.{pid}@patients.bench.example".lower(),
                f"+1416555{pid % 10000:04d}",
                now - timedelta(days=rng.uniform(1, 700)),
                now,
                None,
                office,
            )
        )
    _copy(
        "records_patient",
        [
            "id",
            "first_name",
            "last_name",
            "date_of_birth",
            "email",
            "mobile_phone",
            "created_at",
            "updated_at",
            "created_by_id",
            "office_id",
        ],
        rows,
    )


def _smart_forms(ids: Ids) -> dict[int, tuple[int, str, str, str]]:
    """Every office's "New patient intake", installed by the app's own service."""
    from offices.models import Office
    from records.services.smartforms import smart_forms_install_defaults

    forms = {}
    for office in Office.objects.filter(pk__in=list(ids.members)):
        form = smart_forms_install_defaults(office=office)
        questions = [q.snapshot() for q in form.questions.all()]
        forms[office.pk] = (form.pk, form.title, form.instructions, json.dumps(questions))
    return forms


def _practitioners(ids: Ids, office: int) -> list[int]:
    return [uid for uid, role, _ in ids.members[office] if role == "practitioner"]


def _records(shape: Shape, rng, now, ids: Ids, forms, log) -> dict[int, list[tuple[int, str]]]:
    """Appointments, Smart Form requests, documents (metadata) and treatment plans of every
    patient. Returns each patient's form requests: [(id, status)]."""
    appointments, form_requests, documents, plans = [], [], [], []
    appt_id, fr_id, doc_id, plan_id = _Seq(), _Seq(), _Seq(), _Seq()
    ids_fr: dict[int, list[tuple[int, str]]] = {}
    for office, patients in ids.patients.items():
        practitioners = _practitioners(ids, office)
        form_id, title, instructions, questions = forms[office]
        for pid in patients:
            for k in range(shape.appointments_per_patient):
                starts = now + timedelta(days=rng.uniform(-180, 60))
                starts = starts.replace(minute=(starts.minute // 15) * 15, second=0, microsecond=0)
                cancelled = k % 10 == 9
                appointments.append(
                    (
                        appt_id(),
                        starts,
                        30,
                        "Follow-up visit",
                        "cancelled" if cancelled else "booked",
                        now,
                        now if cancelled else None,
                        None,
                        None,
                        office,
                        pid,
                        rng.choice(practitioners),
                    )
                )
            for k in range(shape.form_requests_per_patient):
                submitted = k % 2 == 1
                fid = fr_id()
                ids_fr.setdefault(pid, []).append((fid, "submitted" if submitted else "pending"))
                form_requests.append(
                    (
                        fid,
                        title,
                        instructions,
                        questions,
                        "{}",
                        "submitted" if submitted else "pending",
                        now - timedelta(days=rng.uniform(1, 300)),
                        now - timedelta(days=1) if submitted else None,
                        None,
                        form_id,
                        office,
                        pid,
                    )
                )
            for _k in range(shape.documents_per_patient):
                documents.append(
                    (
                        doc_id(),
                        rng.choice(("Lab results", "Referral letter", "X-ray report", "Consent")),
                        (now - timedelta(days=rng.uniform(1, 700))).date(),
                        f"documents/{office}/{uuid.UUID(int=rng.getrandbits(128)).hex}",
                        "scan.pdf",
                        "application/pdf",
                        rng.randrange(20_000, 2_000_000),
                        now,
                        office,
                        rng.choice(practitioners),
                        pid,
                    )
                )
            for _k in range(shape.plans_per_patient):
                author = rng.choice(practitioners)
                plans.append(
                    (
                        plan_id(),
                        "Treatment plan",
                        "Stretching twice a day; review in six weeks. " * 8,
                        (now - timedelta(days=rng.uniform(1, 300))).date(),
                        now,
                        now,
                        author,
                        author,
                        office,
                        pid,
                    )
                )
    _copy(
        "records_appointment",
        [
            "id",
            "starts_at",
            "duration_minutes",
            "reason",
            "status",
            "created_at",
            "cancelled_at",
            "cancelled_by_id",
            "created_by_id",
            "office_id",
            "patient_id",
            "practitioner_id",
        ],
        appointments,
    )
    _copy(
        "records_formrequest",
        [
            "id",
            "title",
            "instructions",
            "questions",
            "answers",
            "status",
            "created_at",
            "submitted_at",
            "created_by_id",
            "form_id",
            "office_id",
            "patient_id",
        ],
        form_requests,
    )
    _copy(
        "records_document",
        [
            "id",
            "title",
            "document_date",
            "file",
            "original_name",
            "content_type",
            "size",
            "created_at",
            "office_id",
            "uploaded_by_id",
            "patient_id",
        ],
        documents,
    )
    _copy(
        "records_treatmentplan",
        [
            "id",
            "title",
            "body",
            "plan_date",
            "created_at",
            "updated_at",
            "author_id",
            "edited_by_id",
            "office_id",
            "patient_id",
        ],
        plans,
    )
    log(
        f"  {len(appointments)} appointments, {len(form_requests)} Smart Form requests, "
        f"{len(documents)} documents, {len(plans)} treatment plans"
    )
    return ids_fr


CODE_COLUMNS = [
    "id",
    "kind",
    "code_digest",
    "link_digest",
    "sealed",
    "status",
    "issued_at",
    "expires_at",
    "issue_key",
    "channel",
    "address",
    "delivery_state",
    "delivery_attempts",
    "delivery_error",
    "delivery_due_at",
    "sent_at",
    "redeemed_at",
    "cancelled_at",
    "cancel_reason",
    "dob_failures",
    "cancelled_by_id",
    "form_request_id",
    "issued_by_id",
    "office_id",
    "patient_id",
    "redeemed_by_id",
    "replaces_id",
]


def code_row(
    *,
    code_id: int,
    kind: str,
    code: str,
    status: str,
    issued_at: datetime,
    issuer: int,
    office: int,
    patient: int,
    form_request: int | None = None,
    channel: str = "phone",
    address: str = "",
    issue_key: str = "",
    redeemed_by: int | None = None,
    cancelled_by: int | None = None,
) -> tuple:
    """One access_code row with the app's digests of a real code and link token."""
    from accesscodes.services import code_digest, link_digest
    from outsmart.tokens import new_link_token

    lifetime = timedelta(days=5) if kind == "medical_records" else timedelta(days=60)
    delivered = channel in ("email", "sms")
    return (
        code_id,
        kind,
        code_digest(code),
        link_digest(new_link_token()),
        "",
        status,
        issued_at,
        issued_at + lifetime,
        issue_key,
        channel,
        address,
        "sent" if delivered else "handed",
        1 if delivered else 0,
        "",
        issued_at,
        issued_at if delivered else None,
        issued_at + timedelta(hours=5) if status == "redeemed" else None,
        issued_at + timedelta(hours=3) if status == "cancelled" else None,
        "cancelled" if status == "cancelled" else "",
        0,
        cancelled_by,
        form_request,
        issuer,
        office,
        patient,
        redeemed_by,
        None,
    )


def _codes_and_grants(shape: Shape, rng, now, ids: Ids, form_requests, log) -> None:
    from accesscodes.words import code_generate

    per_patient = max(1, shape.codes // shape.patients)
    total = per_patient * shape.patients
    inactive = total - shape.active_codes
    statuses = (
        ["active"] * shape.active_codes
        + ["redeemed"] * (inactive * 30 // 75)
        + ["cancelled"] * (inactive * 10 // 75)
    )
    statuses += ["expired"] * (total - len(statuses))
    rng.shuffle(statuses)
    office_of = {pid: office for office, pids in ids.patients.items() for pid in pids}
    first_portal = ids.three_clinics - shape.portal_accounts
    portal_accounts = iter(range(first_portal, first_portal + shape.portal_accounts))
    # The three-clinics and one-clinic accounts' patients: one at each of three clinics.
    special = {}
    for n, office in enumerate((1, 4 if shape.offices >= 4 else 2, 5 if shape.offices >= 5 else 3)):
        special[ids.patients[office][7]] = [ids.three_clinics]
        if n == 0:
            special[ids.patients[office][11]] = [ids.one_clinic]
    rows, grants = [], []
    seq, grant_seq = _Seq(), _Seq()
    active_digests = set()
    index = 0
    for pid in range(1, shape.patients + 1):
        office = office_of[pid]
        practitioners = _practitioners(ids, office)
        pending_forms = [fid for fid, state in form_requests.get(pid, []) if state == "pending"]
        for k in range(per_patient):
            status = statuses[index]
            index += 1
            kind = "smart_form" if (k % 5 == 4 and pending_forms) else "medical_records"
            redeemer = None
            if k == 0 and pid in special:
                status, kind, redeemer = "redeemed", "medical_records", special[pid][0]
            elif status == "redeemed" and kind == "medical_records":
                redeemer = next(portal_accounts, None)
                if redeemer is None:
                    status = "expired"
            if status == "active":
                issued = now - timedelta(
                    days=rng.uniform(0, 4.5 if kind == "medical_records" else 50)
                )
            else:
                issued = now - timedelta(days=rng.uniform(6, 500))
            code = code_generate()
            while status == "active" and code in active_digests:
                code = code_generate()
            if status == "active":
                active_digests.add(code)
            channel = ("email", "sms", "phone", "print")[k % 4]
            cid = seq()
            rows.append(
                code_row(
                    code_id=cid,
                    kind=kind,
                    code=code,
                    status=status,
                    issued_at=issued,
                    issuer=rng.choice(practitioners),
                    office=office,
                    patient=pid,
                    form_request=pending_forms[0] if kind == "smart_form" else None,
                    channel=channel,
                    address={"email": f"p{pid}@patients.bench.example", "sms": "+14165550100"}.get(
                        channel, ""
                    ),
                    redeemed_by=redeemer,
                    cancelled_by=practitioners[0] if status == "cancelled" else None,
                )
            )
            if redeemer is not None:
                grants.append(
                    (
                        *(grant_seq(), "medical_records", issued + timedelta(hours=5), "code"),
                        *(None, "", cid, None, pid, None, redeemer),
                    )
                )
    # A Smart Form shared with the three-clinics account, from a fourth clinic's patient.
    office = 6 if shape.offices >= 6 else 2
    pid = ids.patients[office][3]
    fid = next(fid for fid, state in form_requests[pid] if state == "pending")
    cid = seq()
    rows.append(
        code_row(
            code_id=cid,
            kind="smart_form",
            code=code_generate(),
            status="active",
            issued_at=now - timedelta(days=2),
            issuer=_practitioners(ids, office)[0],
            office=office,
            patient=pid,
            form_request=fid,
            channel="email",
            address="three.clinics@portal.bench.example",
        )
    )
    grants.append(
        (
            *(grant_seq(), "smart_form", now - timedelta(days=1), "link"),
            *(None, "", cid, fid, pid, None, ids.three_clinics),
        )
    )
    _copy("accesscodes_accesscode", CODE_COLUMNS, rows)
    _copy(
        "portal_portalaccess",
        [
            "id",
            "kind",
            "granted_at",
            "granted_via",
            "revoked_at",
            "revoke_reason",
            "access_code_id",
            "form_request_id",
            "patient_id",
            "revoked_by_id",
            "user_id",
        ],
        grants,
    )
    log(f"  {len(rows)} access codes ({shape.active_codes} active), {len(grants)} portal grants")


def _audit(shape: Shape, rng, now, ids: Ids) -> None:
    office_of = {pid: office for office, pids in ids.patients.items() for pid in pids}

    def rows():
        for n in range(1, shape.audit_events + 1):
            pid = rng.randrange(1, shape.patients + 1)
            office = office_of[pid]
            actor = rng.choice(ids.members[office])[0]
            # All older than a day: history, not counted by the invitation send limits.
            yield (
                n,
                now - timedelta(days=rng.uniform(1.1, 365)),
                rng.choice(AUDIT_ACTIONS),
                "records.patient",
                str(pid),
                f"Patient {pid}",
                f"10.0.{n % 250}.{n % 200 + 1}",
                "",
                "{}",
                actor,
                office,
                pid,
            )

    _copy(
        "audit_auditevent",
        [
            "id",
            "created_at",
            "action",
            "target_type",
            "target_id",
            "target_repr",
            "ip",
            "request_id",
            "detail",
            "actor_id",
            "office_id",
            "patient_id",
        ],
        rows(),
    )
