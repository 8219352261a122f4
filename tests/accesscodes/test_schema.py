"""The access-code table's indexes and constraints (accesscodes migration 0003): redemption finds
codes through the digests' hash indexes, the database refuses what would make a code or link
ambiguous, and the nightly expiry fills only the indexes every row must be in. The migrations
also build a fresh SQLite database, as `make run` does."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accesscodes.models import AccessCode
from accesscodes.services import (
    access_code_reissue,
    access_code_verify,
    access_link_preview,
    link_digest,
)
from tests.accesscodes.conftest import ANNA_DOB, copy_codes
from tests.support import query_plan

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent.parent


def token_of(issued) -> str:
    return re.fullmatch(r"https?://[^/]+/a/([A-Za-z0-9_-]+)/", issued.link).group(1)


def lookup_plan(call, column: str) -> str:
    """The plan of the one query `call` makes that looks codes up by `column`."""
    with CaptureQueriesContext(connection) as captured:
        call()
    [sql] = [q["sql"] for q in captured if f'"accesscodes_accesscode"."{column}" = ' in q["sql"]]
    return query_plan(sql)


@pytest.fixture
def many(issue):
    """A code among 2,000 others, analysed, so the planner chooses as on a real table."""
    issued = issue()
    copy_codes(issue(channel="print").access_code, 2_000, first=1, expires_at=timezone.now())
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE accesscodes_accesscode")
    return issued


def test_typed_words_are_looked_up_through_the_code_digest_hash_index(many):
    plan = lookup_plan(
        lambda: access_code_verify(typed=many.code, date_of_birth=ANNA_DOB), "code_digest"
    )
    assert "accesscode_code_digest_hash" in plan, plan


def test_a_link_is_looked_up_through_the_link_digest_hash_index(many):
    plan = lookup_plan(lambda: access_link_preview(token=token_of(many)), "link_digest")
    assert "accesscode_link_digest_hash" in plan, plan


def test_the_database_refuses_a_second_active_code_with_the_same_link(issue):
    first, second = issue().access_code, issue().access_code
    with pytest.raises(IntegrityError, match="accesscode_active_link_unique"), transaction.atomic():
        AccessCode.objects.filter(pk=second.pk).update(link_digest=first.link_digest)


@pytest.mark.parametrize("retired", ["expired", "redeemed", "cancelled"])
def test_retired_codes_may_share_a_link_digest_and_the_link_opens_the_active_one(issue, retired):
    issued = issue()
    others = [issue().access_code for _ in range(2)]
    AccessCode.objects.filter(pk__in=[c.pk for c in others]).update(
        status=retired, link_digest=link_digest(token_of(issued))
    )
    assert AccessCode.objects.filter(link_digest=issued.access_code.link_digest).count() == 3
    assert access_link_preview(token=token_of(issued)) == issued.access_code


def test_a_code_is_replaced_at_most_once(issue, practitioner):
    old = issue().access_code
    assert old.replaced_by is None
    new = access_code_reissue(access_code=old, actor=practitioner, channel="phone").access_code
    assert old.replaced_by == new
    other = issue().access_code
    with pytest.raises(IntegrityError, match="accesscode_replaces_unique"), transaction.atomic():
        AccessCode.objects.filter(pk=other.pk).update(replaces=old)


def test_only_these_indexes_hold_every_row_so_the_expiry_fills_only_them():
    """Expiring a code writes a new row version (no HOT update: status is in the partial
    indexes' conditions) and an entry into every index without a condition, so each one here
    costs the nightly expiry of a million codes seconds. Partial indexes skip expired rows."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE tablename = 'accesscodes_accesscode'")
        full = {
            indexdef.split(" USING ", 1)[1]
            for (indexdef,) in cursor.fetchall()
            if " WHERE " not in indexdef
        }
    assert full == {
        "btree (id)",
        "hash (code_digest)",
        "hash (link_digest)",
        "btree (patient_id, issued_at DESC)",
        # Deleting a user or an office (support admin; PROTECT) looks for their codes.
        "btree (office_id)",
        "btree (issued_by_id)",
    }


def test_the_models_need_no_migration_that_is_not_written():
    call_command("makemigrations", "accesscodes", check=True, dry_run=True, verbosity=0)


def test_the_migrations_build_a_fresh_sqlite_database_as_make_run_does(tmp_path):
    """PostgreSQL's hash indexes are ordinary indexes there (Django leaves out `USING`)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "REDIS_URL", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    }
    env.update(DEBUG="true", OUTSMART_VAR_DIR=str(tmp_path))
    for command in (["migrate", "--noinput"], ["makemigrations", "--check", "--dry-run"]):
        result = subprocess.run(
            [sys.executable, "manage.py", *command, "-v", "0"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stdout + result.stderr
    database = sqlite3.connect(tmp_path / "outsmart.sqlite3")
    indexes = dict(
        database.execute(
            "SELECT name, sql FROM sqlite_master "
            "WHERE type = 'index' AND tbl_name = 'accesscodes_accesscode' AND sql IS NOT NULL"
        ).fetchall()
    )
    database.close()
    assert indexes["accesscode_code_digest_hash"] == (
        'CREATE INDEX "accesscode_code_digest_hash" ON "accesscodes_accesscode" ("code_digest")'
    )
    assert "accesscode_link_digest_unique" not in indexes
    assert indexes["accesscode_active_link_unique"].endswith("WHERE \"status\" = 'active'")
