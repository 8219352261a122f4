"""Every clinic URL x every persona. A new clinic view without a row here fails the suite."""

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from tests.conftest import make_authenticator

pytestmark = pytest.mark.django_db

CLINIC_NAMESPACES = {"offices", "records", "invitations"}
PERSONAS = ["admin", "practitioner", "staff", "removed_member", "outsider", "patient", "anonymous"]

# GET status per persona, in PERSONAS order. 302 for anonymous is the login redirect;
# 403 for people without an office; 404 for another office's objects.
EXPECTED = {
    "offices:detail": [200, 200, 200, 403, 200, 403, 302],
    "offices:edit": [200, 403, 403, 403, 200, 403, 302],
    "offices:team": [200, 200, 200, 403, 200, 403, 302],
    "offices:remove": [200, 403, 403, 403, 404, 403, 302],
    "offices:leave": [200, 200, 200, 403, 200, 403, 302],
    "offices:activity": [200, 403, 403, 403, 200, 403, 302],
    "offices:switch": [405, 405, 405, 403, 405, 403, 302],
    "records:schedule": [200, 200, 200, 403, 200, 403, 302],
    "invitations:create": [200, 403, 403, 403, 200, 403, 302],
    "invitations:resend": [405, 403, 403, 403, 405, 403, 302],
    "invitations:revoke": [405, 403, 403, 403, 405, 403, 302],
    "records:patients": [200, 200, 200, 403, 200, 403, 302],
}


def clinic_patterns(resolver=None, namespace=""):
    resolver = resolver or get_resolver()
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            inner = (
                f"{namespace}:{entry.namespace}"
                if namespace and entry.namespace
                else (entry.namespace or namespace)
            )
            yield from clinic_patterns(entry, inner)
        elif isinstance(entry, URLPattern) and namespace in CLINIC_NAMESPACES and entry.name:
            yield f"{namespace}:{entry.name}", entry.callback


def test_every_clinic_url_has_a_row_and_goes_through_the_access_rule():
    found = dict(clinic_patterns())
    assert set(found) == set(EXPECTED), "add the new clinic view to EXPECTED"
    for name, callback in found.items():
        assert hasattr(callback, "office_permission"), f"{name} is not wrapped in office_view"


@pytest.fixture
def everyone(request, admin, practitioner, staff, removed_member, outsider, patient):
    return {
        "admin": admin,
        "practitioner": practitioner,
        "staff": staff,
        "removed_member": removed_member,
        "outsider": outsider,
        "patient": patient,
    }


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_permission_matrix(name, everyone, client, staff):
    kwargs = {}
    if name == "offices:remove":
        kwargs = {"membership_id": staff.memberships.get().pk}
    elif name == "invitations:create":
        kwargs = {"role": "staff"}
    elif name in ("invitations:resend", "invitations:revoke"):
        from tests.factories import InvitationFactory

        kwargs = {"invitation_id": InvitationFactory(office=staff.memberships.get().office).pk}
    url = reverse(name, kwargs=kwargs)
    for persona, expected in zip(PERSONAS, EXPECTED[name], strict=True):
        client.logout()
        if persona != "anonymous":
            user = everyone[persona]
            from django_otp import DEVICE_ID_SESSION_KEY

            device = make_authenticator(user)
            client.force_login(user)
            session = client.session
            session[DEVICE_ID_SESSION_KEY] = device.persistent_id
            session.save()
        status = client.get(url).status_code
        assert status == expected, f"{name} as {persona}: {status}, expected {expected}"
