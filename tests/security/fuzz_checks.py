"""What the form fuzzer checks after each request: which tables changed (a digest of every
row of every table, in one query), which audit events were written, and whether anything
stored holds control characters (garbage a form should have refused or cleaned)."""

from __future__ import annotations

import functools
import traceback
from contextlib import contextmanager

from django import forms
from django.apps import apps
from django.db import connection, transaction

# Not the application's data: the session store changes on every login and message.
IGNORED_TABLES = {"django_session"}
AUDIT_TABLE = "audit_auditevent"

# Audit events that record a refusal: written on purpose when a form is refused.
REFUSAL_ACTIONS = {
    "access.denied",
    "auth.login_failed",
    "auth.login_throttled",
    "access_code.redeem_failed",
    "access_code.throttled",
    "two_factor.failed",
    "two_factor.setup_failed",
    "two_factor.throttled",
}

# C0 and C1 control characters other than tab and line breaks, as text and as JSON escapes.
CONTROL_IN_TEXT = "[\x01-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]"
CONTROL_IN_JSON = r"\\u00(0[1-8bcef]|1[0-9a-f]|7f|[89][0-9a-f])"


@functools.cache
def tables() -> dict[str, str]:
    """{table: primary key column} of every concrete model, Django's and ours."""
    found = {}
    for model in apps.get_models(include_auto_created=True):
        meta = model._meta
        if meta.proxy or not meta.managed or meta.db_table in IGNORED_TABLES:
            continue
        found[meta.db_table] = meta.pk.column
    return dict(sorted(found.items()))


@functools.cache
def _snapshot_sql() -> str:
    qn = connection.ops.quote_name
    # Table names come from the models, not from input.
    parts = [
        f"SELECT '{table}', md5(coalesce(string_agg(t::text, '|' ORDER BY t.{qn(pk)}), ''))"  # noqa: S608
        f" FROM {qn(table)} t"
        for table, pk in tables().items()
        if table != AUDIT_TABLE
    ]
    return " UNION ALL ".join(parts)


def snapshot() -> dict[str, str]:
    with connection.cursor() as cursor:
        cursor.execute(_snapshot_sql())
        return dict(cursor.fetchall())


def changed_tables(before: dict[str, str], after: dict[str, str]) -> set[str]:
    return {table for table, digest in after.items() if before.get(table) != digest}


def last_audit_id() -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT coalesce(max(id), 0) FROM {AUDIT_TABLE}")  # noqa: S608
        return cursor.fetchone()[0]


def audit_actions_since(audit_id: int) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT action FROM {AUDIT_TABLE} WHERE id > %s ORDER BY id",  # noqa: S608
            [audit_id],
        )
        return [row[0] for row in cursor.fetchall()]


def garbage(changed: set[str], audit_id: int) -> list[str]:
    """Rows of the changed tables (and new audit events) that hold control characters."""
    qn = connection.ops.quote_name
    found = []
    with connection.cursor() as cursor:
        for table in sorted(changed | {AUDIT_TABLE}):
            pk = tables()[table]
            where = "(t::text ~ %s OR t::text ~* %s)"
            params = [CONTROL_IN_TEXT, CONTROL_IN_JSON]
            if table == AUDIT_TABLE:
                where += " AND t.id > %s"
                params.append(audit_id)
            cursor.execute(
                f"SELECT t::text FROM {qn(table)} t WHERE {where} ORDER BY t.{qn(pk)}",  # noqa: S608
                params,
            )
            found += [f"{table}: {row[0][:300]!r}" for row in cursor.fetchall()]
    return found


def broken_rows() -> list[str]:
    """Stored values the application cannot work with, whatever their characters: an office
    whose time zone does not exist breaks every page of that office."""
    import zoneinfo

    from offices.models import Office

    zones = zoneinfo.available_timezones()
    return [
        f"offices_office {pk}: time zone {zone!r}"
        for pk, zone in Office.objects.values_list("pk", "time_zone")
        if zone not in zones
    ]


def form_errors(response) -> list[str]:
    """Errors of the bound forms the response rendered: a refused form shows them."""
    errors = []
    seen = set()
    contexts = response.context or []
    if not isinstance(contexts, list):  # one template rendered: a Context, not a ContextList
        contexts = [contexts]
    for context in contexts:
        for value in context.flatten().values():
            if id(value) in seen:
                continue
            seen.add(id(value))
            if isinstance(value, forms.BaseForm) and value.is_bound and value.errors:
                errors.append(value.errors.as_text()[:300])
            elif isinstance(value, forms.BaseFormSet) and value.is_bound and not value.is_valid():
                errors.append(str(value.non_form_errors())[:300] or "formset errors")
    return errors


class _Rollback(Exception):
    pass


@contextmanager
def rolled_back():
    """Everything inside is undone at the end, like a TestCase's test. Marked as the test
    case's own block, so a service's durable transaction (documents) may run inside it, as
    it does inside a TestCase."""
    block = transaction.atomic()
    block._from_testcase = True
    try:
        with block:
            yield
            raise _Rollback
    except _Rollback:
        pass


def exception_text(exc_info) -> str:
    if not exc_info:
        return ""
    return "".join(traceback.format_exception(*exc_info))[-4000:]
