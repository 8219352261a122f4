"""One index per digest instead of two: `db_index=True` and `unique=True` on a CharField also
build a varchar_pattern_ops ("_like") index on PostgreSQL, for LIKE queries nobody makes on a
keyed hash. And the patient foreign key's own index repeats the first column of
accesscode_patient. Every write to the table updates each index: expiring a million codes
wrote 13.4 GB of WAL with them and 7.9 GB without (bench/README.md).

The database side is explicit SQL: Django's AlterField, dropping `db_index`, would also drop
the partial unique index accesscode_active_code_unique on the same column. The new index and
constraint are built before the old ones go. On SQLite (`make run` only) the old indexes stay:
they are harmless there."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

TABLE = "accesscodes_accesscode"
OLD_INDEXES = [
    "accesscodes_accesscode_code_digest_f3fd2a47",
    "accesscodes_accesscode_code_digest_f3fd2a47_like",
    "accesscodes_accesscode_link_digest_f5c696d9_like",
    "accesscodes_accesscode_patient_id_205311c3",
]
OLD_LINK_UNIQUE = "accesscodes_accesscode_link_digest_key"


def drop_old(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f'ALTER TABLE "{TABLE}" DROP CONSTRAINT IF EXISTS "{OLD_LINK_UNIQUE}"')
    for name in OLD_INDEXES:
        schema_editor.execute(f'DROP INDEX IF EXISTS "{name}"')


def restore_old(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    code, code_like, link_like, patient = OLD_INDEXES
    for sql in (
        f'CREATE INDEX "{code}" ON "{TABLE}" ("code_digest")',
        f'CREATE INDEX "{code_like}" ON "{TABLE}" ("code_digest" varchar_pattern_ops)',
        f'ALTER TABLE "{TABLE}" ADD CONSTRAINT "{OLD_LINK_UNIQUE}" UNIQUE ("link_digest")',
        f'CREATE INDEX "{link_like}" ON "{TABLE}" ("link_digest" varchar_pattern_ops)',
        f'CREATE INDEX "{patient}" ON "{TABLE}" ("patient_id")',
    ):
        schema_editor.execute(sql)


class Migration(migrations.Migration):
    dependencies = [
        ("accesscodes", "0001_initial"),
        ("records", "0003_smartforms_intake_defaults"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    new_index = models.Index(fields=["code_digest"], name="accesscode_code_digest")
    new_unique = models.UniqueConstraint(
        fields=("link_digest",), name="accesscode_link_digest_unique"
    )
    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.AddIndex(model_name="accesscode", index=new_index),
                migrations.AddConstraint(model_name="accesscode", constraint=new_unique),
                migrations.RunPython(drop_old, restore_old),
            ],
            state_operations=[
                migrations.AddIndex(model_name="accesscode", index=new_index),
                migrations.AddConstraint(model_name="accesscode", constraint=new_unique),
                migrations.AlterField(
                    model_name="accesscode",
                    name="code_digest",
                    field=models.CharField(max_length=64),
                ),
                migrations.AlterField(
                    model_name="accesscode",
                    name="link_digest",
                    field=models.CharField(max_length=64),
                ),
                migrations.AlterField(
                    model_name="accesscode",
                    name="patient",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="access_codes",
                        to="records.patient",
                    ),
                ),
            ],
        ),
    ]
