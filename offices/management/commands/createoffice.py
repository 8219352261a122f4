"""manage.py createoffice --name NAME --admin-email EMAIL

Creates an office and invites its first admin (a practitioner with the admin flag). They
register through the invitation link, then complete the office setup themselves.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from invitations.services import invitation_create
from offices.models import Office, Role
from outsmart.logging import set_request_id
from outsmart.text import normalise_email, single_line, validate_email
from records.services.smartforms import smart_forms_install_defaults


class Command(BaseCommand):
    help = "Create an office and email an invitation to its first admin."

    def add_arguments(self, parser):
        parser.add_argument("--name", required=True, help="The office's name.")
        parser.add_argument("--admin-email", required=True, help="Who will run the office.")
        parser.add_argument(
            "--time-zone", default="America/Toronto", help="IANA time zone of the office."
        )

    def handle(self, *args, name: str, admin_email: str, time_zone: str, **options):
        name = single_line(name)[:200]
        if not name:
            raise CommandError("--name must not be empty.")
        email = normalise_email(admin_email)
        try:
            validate_email(email)
        except ValidationError:
            raise CommandError(f"--admin-email {admin_email!r} is not an email address.") from None
        import zoneinfo

        if time_zone not in zoneinfo.available_timezones():
            raise CommandError(f"--time-zone {time_zone!r} is not a known time zone.")
        if Office.objects.filter(name__iexact=name).exists():
            raise CommandError(f"An office named {name!r} already exists.")
        # One id for this run's audit events, as a web request has: the log can say which
        # operator command made them.
        set_request_id(f"command-{uuid.uuid4().hex}")
        try:
            with transaction.atomic():
                office = Office.objects.create(name=name, time_zone=time_zone)
                smart_forms_install_defaults(office=office)
                invitation = invitation_create(
                    office=office,
                    email=email,
                    role=Role.PRACTITIONER,
                    is_admin=True,
                    invited_by=None,
                    require_setup=False,
                    enforce_limits=False,
                )
        finally:
            set_request_id(None)
        invitation.refresh_from_db()
        self.stdout.write(f"Created office {office.name!r} (id {office.pk}).")
        if invitation.delivery_state == invitation.Delivery.FAILED:
            raise CommandError(
                f"The invitation email to {invitation.email} could not be sent "
                f"({invitation.delivery_error}). Check EMAIL_URL; support can resend it from the "
                "admin."
            )
        self.stdout.write(f"Invited {invitation.email} as its first admin; {self._where()}")
        self.stdout.write("The link works for 14 days. They register, then complete the setup.")

    def _where(self) -> str:
        backend = settings.EMAIL_BACKEND
        if backend == "outsmart.devtools.mail.OutboxEmailBackend":
            where = f"the email was written to {settings.OUTBOX_DIR}"
            if settings.DEBUG:
                where += f" (readable at {settings.SITE_URL.rstrip('/')}/dev/outbox/)"
            return where + "."
        if settings.CELERY_TASK_ALWAYS_EAGER:
            return f"the email was handed to {backend} ({getattr(settings, 'EMAIL_HOST', '')})."
        return (
            "the email is queued for the Celery worker, which sends it through "
            f"{getattr(settings, 'EMAIL_HOST', backend)}:{getattr(settings, 'EMAIL_PORT', '')}."
        )
