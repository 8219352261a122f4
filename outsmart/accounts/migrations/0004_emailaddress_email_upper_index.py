"""An index on UPPER(email) for allauth's email addresses, as 0003 made for users.

`email_in_use` (outsmart/accounts/services.py) asks `EmailAddress.objects.filter(email__iexact=
...)` on every invitation landing page and registration: `UPPER(email) = UPPER(%s)`, which no
allauth index serves (its unique index is on `lower(email)`, and only for verified rows). At
5,600 accounts that was a 2.4 ms table scan per request, growing with every portal account
(bench/). The table is allauth's, so the index is plain SQL here; SQLite (`make run` only)
does without it.
"""

from django.db import migrations

INDEX = "account_emailaddress_email_upper"


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f'CREATE INDEX IF NOT EXISTS "{INDEX}" ON "account_emailaddress" (UPPER("email"))'
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f'DROP INDEX IF EXISTS "{INDEX}"')


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_user_email_upper_index"),
        ("account", "0009_emailaddress_unique_primary_email"),
    ]

    operations = [migrations.RunPython(create, drop, elidable=False)]
