from django.apps import AppConfig


class InvitationsConfig(AppConfig):
    """Invitation lifecycle (issue: invitations)."""

    name = "invitations"
