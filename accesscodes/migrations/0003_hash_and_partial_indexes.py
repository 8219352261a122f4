"""Indexes the expiry job need not fill. It expires codes in one UPDATE (the benchmark: a
million at once), which writes a new version of each row and an entry for it into every index
whose condition the new version meets (status is in the partial indexes' conditions, so
PostgreSQL cannot make the update HOT). Partial indexes on active codes are skipped; full
ones are not.

- The digests get hash indexes instead of btrees: redemption only asks for equality, and a hash
  entry holds a 4-byte hash where a btree holds the 64-character digest. A hash index cannot be
  unique, so the link digest becomes unique among active codes only, as the code digest
  already was: an active duplicate would make a link ambiguous; two retired rows never share
  a 144-bit token.
- The nullable foreign keys (form_request, redeemed_by, cancelled_by, replaces) are indexed
  only where they are set: most rows have none of them, and nothing looks for NULLs.
  `replaces` becomes a foreign key with a partial unique constraint, keeping it one-to-one.

Measured on 200,000 codes plus 1,000,000 due ones: bench/README.md.

New indexes are built before the old ones go, both ways. Dropping `db_index` (and the
one-to-one's unique) with Django's AlterField would also drop and re-add each foreign-key
constraint, checking every row again; on PostgreSQL the old indexes are dropped by name
instead, and the AlterFields change only the state. On SQLite (`make run` only), where a hash
index is created as an ordinary one (Django leaves out `USING` there), the last step rebuilds
the table from the state, so it ends up exactly as the models say.
"""

import django.contrib.postgres.indexes
import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

TABLE = "accesscodes_accesscode"
# The names Django gave the fields' own indexes (0001_initial).
OLD_FK_INDEXES = {
    "form_request_id": "accesscodes_accesscode_form_request_id_c3cbae9f",
    "redeemed_by_id": "accesscodes_accesscode_redeemed_by_id_ae9e403c",
    "cancelled_by_id": "accesscodes_accesscode_cancelled_by_id_7d1190d2",
}
OLD_REPLACES_UNIQUE = "accesscodes_accesscode_replaces_id_key"


def drop_old(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in OLD_FK_INDEXES.values():
        schema_editor.execute(f'DROP INDEX IF EXISTS "{name}"')
    schema_editor.execute(
        f'ALTER TABLE "{TABLE}" DROP CONSTRAINT IF EXISTS "{OLD_REPLACES_UNIQUE}"'
    )


def restore_old(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for column, name in OLD_FK_INDEXES.items():
        schema_editor.execute(f'CREATE INDEX "{name}" ON "{TABLE}" ("{column}")')
    schema_editor.execute(
        f'ALTER TABLE "{TABLE}" ADD CONSTRAINT "{OLD_REPLACES_UNIQUE}" UNIQUE ("replaces_id")'
    )


class Migration(migrations.Migration):
    dependencies = [
        ("accesscodes", "0002_digest_indexes_without_like"),
        ("offices", "0001_initial"),
        ("records", "0003_smartforms_intake_defaults"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        # 1. The new indexes and constraints.
        migrations.AddIndex(
            model_name="accesscode",
            index=django.contrib.postgres.indexes.HashIndex(
                fields=["code_digest"], name="accesscode_code_digest_hash"
            ),
        ),
        migrations.AddIndex(
            model_name="accesscode",
            index=django.contrib.postgres.indexes.HashIndex(
                fields=["link_digest"], name="accesscode_link_digest_hash"
            ),
        ),
        migrations.AddConstraint(
            model_name="accesscode",
            constraint=models.UniqueConstraint(
                condition=models.Q(("status", "active")),
                fields=("link_digest",),
                name="accesscode_active_link_unique",
            ),
        ),
        migrations.AddIndex(
            model_name="accesscode",
            index=models.Index(
                condition=models.Q(("form_request__isnull", False)),
                fields=["form_request"],
                name="accesscode_form_request",
            ),
        ),
        migrations.AddIndex(
            model_name="accesscode",
            index=models.Index(
                condition=models.Q(("redeemed_by__isnull", False)),
                fields=["redeemed_by"],
                name="accesscode_redeemed_by",
            ),
        ),
        migrations.AddIndex(
            model_name="accesscode",
            index=models.Index(
                condition=models.Q(("cancelled_by__isnull", False)),
                fields=["cancelled_by"],
                name="accesscode_cancelled_by",
            ),
        ),
        migrations.AddConstraint(
            model_name="accesscode",
            constraint=models.UniqueConstraint(
                condition=models.Q(("replaces__isnull", False)),
                fields=("replaces",),
                name="accesscode_replaces_unique",
            ),
        ),
        # 2. The foreign keys' own indexes (by name on PostgreSQL; in the state only).
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(drop_old, restore_old)],
            state_operations=[
                migrations.AlterField(
                    model_name="accesscode",
                    name="form_request",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="access_codes",
                        to="records.formrequest",
                    ),
                ),
                migrations.AlterField(
                    model_name="accesscode",
                    name="redeemed_by",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                migrations.AlterField(
                    model_name="accesscode",
                    name="cancelled_by",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                migrations.AlterField(
                    model_name="accesscode",
                    name="replaces",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="accesscodes.accesscode",
                    ),
                ),
            ],
        ),
        # 3. The digests' btree index and full unique constraint. On SQLite, removing the
        # constraint rebuilds the table from the state, as the models now describe it.
        migrations.RemoveIndex(model_name="accesscode", name="accesscode_code_digest"),
        migrations.RemoveConstraint(model_name="accesscode", name="accesscode_link_digest_unique"),
    ]
