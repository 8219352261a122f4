from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from outsmart.devtools.demo import DEMO_PASSWORD, seed_demo


class Command(BaseCommand):
    help = "Create the demo office and its people for `make run` (safe to run again)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--force",
            action="store_true",
            help="Seed even with DEBUG off (never on a real installation).",
        )

    def handle(self, *args, force=False, **options):
        if not settings.DEBUG and not force:
            raise CommandError(
                "seed_demo only runs with DEBUG on (or --force): it creates "
                "accounts with a published password."
            )
        office, people = seed_demo()
        self.stdout.write(self.style.SUCCESS(f"Demo office: {office.name}"))
        self.stdout.write(f"Demo logins (password for all: {DEMO_PASSWORD}):")
        for person in people:
            if person.removed:
                what = f"{person.role} (removed from the office)"
            elif person.role:
                what = f"{person.role}{', office admin' if person.is_admin else ''}"
            else:
                what = "patient portal account"
            self.stdout.write(f"  {person.email:34} {what}")
        from outsmart.devtools.demo import INVITEES

        self.stdout.write("Pending invitations (their emails, with the links, are in the outbox):")
        for email, _name, role in INVITEES:
            self.stdout.write(f"  {email:34} {role}")
        site = settings.SITE_URL  # `make run` sets it from HOST and PORT
        self.stdout.write(
            f"Clinic login: {site}/accounts/login/  "
            f"Patient portal: {site}/portal/  "
            f"Sent mail: {site}/dev/outbox/"
        )
