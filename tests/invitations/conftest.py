import re

import pytest

from invitations import services
from invitations.models import Invitation

LINK = re.compile(r"https?://[^/\s]+(/invitations/[A-Za-z0-9_-]+/)")


def link_path(message) -> str:
    """The registration link's path, from an email's text part."""
    return LINK.search(message.body).group(1)


def open_link(client, message, step: str = "") -> str:
    """Open the email's link in `client` as a browser does: the link's address remembers the
    invitation in the session and redirects to the page without the token, whose path this
    returns (`step`: "register/" or "review/")."""
    response = client.get(link_path(message) + step)
    assert response.status_code == 302, response.status_code
    assert response["Referrer-Policy"] == "no-referrer"
    return response["Location"]


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
