import pytest
from django.db import IntegrityError
from django.urls import reverse

from outsmart.accounts.models import User
from outsmart.audit.models import AuditEvent
from tests.support import query_plan

pytestmark = pytest.mark.django_db


def login(client, email, password):
    return client.post(reverse("account_login"), {"login": email, "password": password})


def test_email_is_unique_whatever_its_case_in_the_database_itself():
    User.objects.create_user(email="Ana@Example.org", password="x" * 12)
    with pytest.raises(IntegrityError):
        # Bypass every form: the constraint is in PostgreSQL.
        User.objects.bulk_create([User(email="ANA@example.ORG")])


def test_user_manager_stores_email_lower_cased():
    user = User.objects.create_user(email="  Bob@Example.ORG ", password="x" * 12)
    assert user.email == "bob@example.org"


def test_patient_logs_in_with_any_case_of_their_email(client, patient, password):
    response = login(client, patient.email.upper(), password)
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(patient.pk)
    event = AuditEvent.objects.get(action="auth.login")
    assert event.actor == patient
    assert event.ip == "127.0.0.1"


def test_wrong_password_shows_a_clear_message_and_is_audited(client, patient):
    response = login(client, patient.email, "not the password")
    assert response.status_code == 200
    assert "not correct" in response.content.decode()
    assert "_auth_user_id" not in client.session
    event = AuditEvent.objects.get(action="auth.login_failed")
    assert event.target_id == str(patient.pk)
    assert event.detail == {"known_account": True}
    # The password typed never lands in the audit log.
    assert "not the password" not in str(event.detail)


def test_failed_logins_are_rate_limited_even_with_the_right_password_afterwards(
    client, patient, password
):
    for _ in range(5):
        login(client, patient.email, "wrong wrong wrong")
    response = login(client, patient.email, password)
    assert "_auth_user_id" not in client.session
    assert "Too many failed login attempts" in response.content.decode()


def test_signup_page_without_invitation_or_code_explains_and_creates_nothing(client):
    page = client.get(reverse("account_signup"))
    assert page.status_code == 200
    body = page.content.decode()
    assert "invitation email" in body
    assert "Register Here" in body
    response = client.post(
        reverse("account_signup"),
        {
            "email": "intruder@example.com",
            "password1": "A-long-pass-9876",
            "password2": "A-long-pass-9876",
        },
    )
    assert response.status_code == 200
    assert not User.objects.filter(email="intruder@example.com").exists()


def test_signup_opens_only_when_a_registered_gate_says_so(client, settings):
    settings.OUTSMART_SIGNUP_GATES = ["tests.accounts.test_login.gate_from_session"]
    assert "invitation email" in client.get(reverse("account_signup")).content.decode()
    session = client.session
    session["test-gate"] = True
    session.save()
    page = client.get(reverse("account_signup"))
    assert 'name="password1"' in page.content.decode()


def gate_from_session(request):
    return bool(request.session.get("test-gate"))


def test_password_reset_never_logs_in_and_links_last_a_day(
    client, patient, mailoutbox, django_capture_on_commit_callbacks, settings
):
    assert settings.PASSWORD_RESET_TIMEOUT <= 24 * 60 * 60
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("account_reset_password"), {"email": patient.email})
    assert len(mailoutbox) == 1
    link = next(w for w in mailoutbox[0].body.split() if "/password/reset/key/" in w)
    path = link.split("testserver", 1)[-1] if "testserver" in link else "/" + link.split("/", 3)[3]
    form_page = client.get(path, follow=True)
    new = "brand new secret 4471"
    client.post(
        form_page.redirect_chain[-1][0] if form_page.redirect_chain else path,
        {"password1": new, "password2": new},
    )
    patient.refresh_from_db()
    assert patient.check_password(new)
    assert "_auth_user_id" not in client.session


def test_logout_is_a_post_and_ends_the_session_on_the_server(client, patient):
    client.force_login(patient)
    key = client.session.session_key
    assert client.get(reverse("account_logout")).status_code == 200  # a confirmation page
    assert client.session.get("_auth_user_id") == str(patient.pk)
    client.post(reverse("account_logout"))
    from django.contrib.sessions.models import Session

    assert not Session.objects.filter(session_key=key).exists()
    assert AuditEvent.objects.filter(action="auth.logout", actor=patient).exists()


def test_looking_up_an_account_by_address_uses_an_index_not_a_table_scan(db):
    """Login and "is this address in use" run `email__iexact` on every request that needs
    them: with many accounts a table scan per lookup is what made pages slow (bench/)."""
    sql, params = User.objects.filter(email__iexact="Someone@Example.com").query.sql_with_params()
    plan = query_plan(sql, params, seqscan=False)
    assert "user_email_upper" in plan, plan


def test_is_this_address_in_use_looks_up_email_addresses_by_an_index(db):
    """The same for allauth's email addresses, which every invitation landing page and
    registration asks about: a 2.4 ms table scan per request at 5,600 accounts (bench/)."""
    from allauth.account.models import EmailAddress

    query = EmailAddress.objects.filter(email__iexact="Someone@Example.com").query
    plan = query_plan(*query.sql_with_params(), seqscan=False)
    assert "account_emailaddress_email_upper" in plan, plan
