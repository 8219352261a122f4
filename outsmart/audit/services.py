"""The one way to write the audit log."""

from __future__ import annotations

import ipaddress
from typing import Any

from django.db import models
from django.http import HttpRequest

from outsmart.audit.models import AuditEvent
from outsmart.http import client_ip
from outsmart.logging import current_request_id


def _valid_ip(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


def audit_record(
    *,
    action: str,
    actor: Any = None,
    office: Any = None,
    patient: Any = None,
    target: models.Model | None = None,
    request: HttpRequest | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditEvent:
    """Record that `actor` did `action` to `target` in `office`.

    `detail` must never hold a secret (code, token, password, OTP): it is shown to office
    admins and support.
    """
    if actor is not None and not getattr(actor, "is_authenticated", True):
        actor = None
    return AuditEvent.objects.create(
        action=action,
        actor=actor,
        office=office,
        patient=patient,
        target_type=target._meta.label_lower if target is not None else "",
        target_id=str(target.pk) if target is not None else "",
        target_repr=str(target)[:200] if target is not None else "",
        ip=_valid_ip(client_ip(request)) if request is not None else None,
        request_id=(getattr(request, "request_id", None) or current_request_id() or "")[:64],
        detail=detail or {},
    )
