import re

import pytest

from invitations import services
from invitations.models import Invitation

LINK = re.compile(r"https?://[^/\s]+(/invitations/[A-Za-z0-9_-]+/)")


def link_path(message) -> str:
    """The registration link's path, from an email's text part."""
    return LINK.search(message.body).group(1)


@pytest.fixture
def invite(admin, office, django_capture_on_commit_callbacks):
    """Invite someone as the office admin, with the email sent (eager tasks)."""

    def make(email="new.person@example.com", role="staff", **kwargs) -> Invitation:
        with django_capture_on_commit_callbacks(execute=True):
            invitation = services.invitation_create(
                office=office, email=email, role=role, invited_by=admin, **kwargs
            )
        invitation.refresh_from_db()
        return invitation

    return make
