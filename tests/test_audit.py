import pytest
from django.db import DatabaseError, connection, transaction

from outsmart.audit.models import AppendOnlyError, AuditEvent
from outsmart.audit.services import audit_record

pytestmark = pytest.mark.django_db


def test_audit_record_keeps_actor_office_target_ip_and_request_id(rf, admin, office, staff):
    request = rf.get("/", REMOTE_ADDR="203.0.113.9")
    request.request_id = "req-0123456789"
    event = audit_record(
        action="membership.removed",
        actor=admin,
        office=office,
        target=staff,
        request=request,
        detail={"role": "staff"},
    )
    event.refresh_from_db()
    assert (event.actor, event.office, event.target_id, event.ip, event.request_id) == (
        admin,
        office,
        str(staff.pk),
        "203.0.113.9",
        "req-0123456789",
    )
    assert event.target_type == "accounts.user"


def test_forwarded_for_is_trusted_only_behind_configured_proxies(rf, settings):
    request = rf.get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="6.6.6.6, 198.51.100.7")
    assert audit_record(action="x", request=request).ip == "10.0.0.2"
    settings.NUM_PROXIES = 1
    assert audit_record(action="x", request=request).ip == "198.51.100.7"


def test_the_application_cannot_update_or_delete_audit_events():
    event = audit_record(action="auth.login")
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        event.delete()
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.filter(pk=event.pk).update(action="other")
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.all().delete()


def test_the_database_refuses_update_and_delete_of_audit_rows():
    event = audit_record(action="auth.login")
    for sql in [
        "UPDATE audit_auditevent SET action = 'forged' WHERE id = %s",
        "DELETE FROM audit_auditevent WHERE id = %s",
    ]:
        with (
            pytest.raises(DatabaseError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(sql, [event.pk])
    assert AuditEvent.objects.get(pk=event.pk).action == "auth.login"
