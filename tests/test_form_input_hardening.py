"""Regressions found by the form fuzzer (tests/security/test_fuzz_forms.py): a request whose
charset cannot be decoded, and email addresses with control or invisible characters."""

import pytest
from django.urls import reverse

from accesscodes.forms import DeliveryForm
from invitations.forms import InviteForm, ReviewRequestForm
from outsmart.text import validate_email
from portal.forms import RegisterForm
from records.patients_forms import PatientForm

pytestmark = pytest.mark.django_db

ODD_ADDRESSES = [
    '"\x0b"@example.com',  # a vertical tab, quoted: Django's EmailField lets it through
    '"\x1b[31mred"@example.com',  # a terminal escape sequence
    '"a\\\x01"@example.com',
    '"\x7f"@example.com',
    "ab@ex\u200bample.com",  # an invisible character in the domain
]


@pytest.mark.parametrize("charset", ["rot13", "base64", "zlib", "idna", "punycode"])
def test_a_form_posted_in_a_charset_that_cannot_decode_it_is_read_as_utf8_not_a_500(
    client, charset
):
    """Django decodes a multipart body with the declared charset: one that is no text
    encoding (or cannot replace what it fails to decode) made every such post a 500, also
    through the CSRF check and the 400 page. It is read as UTF-8, as an unknown charset is."""
    client.raise_request_exception = False
    response = client.generic(
        "POST",
        reverse("account_login"),
        data=(
            b'--XX\r\nContent-Disposition: form-data; name="login"\r\n\r\nnobody@example.com'
            b'\r\n--XX\r\nContent-Disposition: form-data; name="password"\r\n\r\nwrong'
            b"\r\n--XX--\r\n"
        ),
        content_type=f"multipart/form-data; boundary=XX; charset={charset}",
    )
    assert response.status_code == 200
    assert response.context["form"].data["login"] == "nobody@example.com"


def test_a_query_string_with_an_unusable_charset_is_a_400_not_a_500():
    """Django decodes the query string while it builds the request, before any middleware:
    the WSGI application refuses such a request itself."""
    from django.test.client import RequestFactory

    from outsmart.wsgi import application

    environ = RequestFactory()._base_environ(
        PATH_INFO=reverse("account_login"),
        QUERY_STRING="next=%2F",
        REQUEST_METHOD="GET",
        CONTENT_TYPE="text/plain; charset=rot13",
    )
    statuses = []
    body = b"".join(application(environ, lambda status, headers: statuses.append(status)))
    assert statuses == ["400 Bad Request"]
    assert b"charset" in body


@pytest.mark.parametrize("address", ODD_ADDRESSES)
def test_email_addresses_with_control_or_invisible_characters_are_refused(address):
    with pytest.raises(Exception, match="valid email address"):
        validate_email(address)
    assert "email" in InviteForm({"email": address}).errors
    assert "contact_email" in ReviewRequestForm({"contact_email": address}).errors
    patient = PatientForm({"first_name": "A", "last_name": "B", "email": address})
    assert "email" in patient.errors
    assert "email" in RegisterForm({"email": address}).errors
    delivery = DeliveryForm({"channel": "email", "email": address, "issue_key": "0" * 32})
    assert "email" in delivery.errors


def test_ordinary_and_international_addresses_still_pass():
    for address in ["ada@example.com", "a.b+tag@example.co.uk", "ab@例え.jp"]:
        validate_email(address)
        assert InviteForm({"email": address}).is_valid(), address


@pytest.mark.parametrize("address", ODD_ADDRESSES[:2])
def test_allauth_forms_refuse_such_addresses_too(client, address):
    from tests.factories import UserFactory

    user = UserFactory(email="patient@example.net")
    client.force_login(user)
    response = client.post(reverse("account_email"), {"email": address, "action_add": ""})
    assert response.status_code == 200
    assert "valid email address" in response.content.decode()
    assert list(user.emailaddress_set.values_list("email", flat=True)) == [user.email]
    client.logout()
    from outsmart.emails.models import OutgoingEmail

    before = OutgoingEmail.objects.count()
    response = client.post(reverse("account_reset_password"), {"email": address})
    assert response.status_code == 200
    assert OutgoingEmail.objects.count() == before


def test_support_cannot_give_an_office_a_time_zone_that_does_not_exist_or_a_garbled_name(
    client,
):
    """Every page of an office shows times in its zone: an unknown one would break them all."""
    from django_otp import DEVICE_ID_SESSION_KEY

    from offices.models import Office
    from tests.conftest import make_authenticator
    from tests.factories import UserFactory

    support = UserFactory(email="support@outsmart.example", is_staff=True, is_superuser=True)
    client.force_login(support)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = make_authenticator(support).persistent_id
    session.save()
    form = {
        "name": "Bayview Clinic",
        "address": "2 Bay Street",
        "phone": "+1 416 555 0199",
        "time_zone": "Mars/Olympus",
        "memberships-TOTAL_FORMS": "0",
        "memberships-INITIAL_FORMS": "0",
        "_save": "Save",
    }
    response = client.post(reverse("admin:offices_office_add"), form)
    assert response.status_code == 200
    assert not Office.objects.filter(name="Bayview Clinic").exists()
    response = client.post(reverse("admin:offices_office_add"), {**form, "name": "\x08"})
    assert response.status_code == 200
    assert not Office.objects.filter(name="\x08").exists()
    response = client.post(
        reverse("admin:offices_office_add"),
        {**form, "name": "Bay\x1bview Clinic", "time_zone": "America/Halifax"},
    )
    assert response.status_code == 302
    assert Office.objects.get(name="Bay view Clinic").time_zone == "America/Halifax"


def test_an_office_name_or_address_with_control_characters_is_cleaned():
    from offices.forms import OfficeForm

    form = OfficeForm(
        {
            "name": "Lake\x08side\x1b Clinic",
            "address": "1 Main\x1b Street\n\n\x07\nToronto",
            "phone": "+1 416 555 0100",
            "time_zone": "America/Toronto",
        }
    )
    assert form.is_valid(), form.errors
    assert form.cleaned_data["name"] == "Lake side Clinic"
    assert form.cleaned_data["address"] == "1 Main Street\nToronto"
    assert "name" in OfficeForm({"name": "\x08", "phone": "+1 416 555 0100"}).errors


@pytest.mark.parametrize(
    "content_type, body",
    [
        ("application/x-www-form-urlencoded; charset=latin-1", b"login=caf%E9"),
        ("application/x-www-form-urlencoded", b"login=" + b"a" * (3 * 1024 * 1024)),
    ],
    ids=["not UTF-8", "over the size limit"],
)
def test_a_form_django_refuses_to_read_is_a_400_also_through_the_csrf_check(content_type, body):
    """The CSRF check reads the form first; Django's own 400 page read it again for its CSRF
    token and failed the same way, which made the 400 a 500."""
    from django.conf import settings
    from django.test import Client

    client = Client(enforce_csrf_checks=True, raise_request_exception=False)
    client.cookies[settings.CSRF_COOKIE_NAME] = "a" * 32
    response = client.generic(
        "POST", reverse("account_login"), data=body, content_type=content_type
    )
    assert response.status_code == 400
    assert "couldn’t understand that request" in response.content.decode()
