"""The append-only guard of 0002 refuses UPDATE and DELETE row by row; TRUNCATE fires no row
trigger, so it emptied the audit log past that guard. A statement trigger now refuses it too.

The only one allowed to empty the table is a test suite emptying its own test database between
transactional tests (Django's flush is one TRUNCATE of every table): it must both run in a
database whose name starts with "test_" (pytest-django's) and say so in its transaction with
`SET LOCAL outsmart.audit_truncate = 'allow'` (tests/conftest.py). (SQLite, used only by
`make run`, has no guard.)"""

from django.db import migrations

ALLOW_SETTING = "outsmart.audit_truncate"

FORWARD = f"""
CREATE OR REPLACE FUNCTION audit_event_no_truncate() RETURNS trigger AS $$
BEGIN
    IF current_database() LIKE 'test\\_%' AND
            current_setting('{ALLOW_SETTING}', true) = 'allow' THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'audit events are append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER audit_event_no_truncate
    BEFORE TRUNCATE ON audit_auditevent
    FOR EACH STATEMENT EXECUTE FUNCTION audit_event_no_truncate();
"""

BACKWARD = """
DROP TRIGGER IF EXISTS audit_event_no_truncate ON audit_auditevent;
DROP FUNCTION IF EXISTS audit_event_no_truncate();
"""


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORWARD, params=None)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKWARD, params=None)


class Migration(migrations.Migration):
    dependencies = [("audit", "0003_auditevent_patient_auditevent_audit_patient_recent")]
    operations = [migrations.RunPython(forward, backward)]
