import re
import threading

import pytest
from django.db import connection
from django.urls import reverse
from django_otp.plugins.otp_totp.models import TOTPDevice

from outsmart.accounts.backup_codes import backup_code_digest, normalise_backup_code
from outsmart.accounts.models import BackupCode, BackupCodeDevice
from outsmart.audit.models import AuditEvent
from tests.conftest import current_totp, make_authenticator

pytestmark = pytest.mark.django_db

SETUP = reverse("accounts:two_factor_setup")
VERIFY = reverse("accounts:two_factor_verify")


def enable_two_factor(client, user, django_capture_on_commit_callbacks):
    client.get(SETUP)
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(SETUP, {"code": current_totp(device)})
    return device, response


def test_clinic_member_with_password_only_reaches_nothing_but_two_factor_setup(
    client, practitioner
):
    client.force_login(practitioner)
    for url in [reverse("home"), reverse("accounts:overview"), "/admin/", reverse("portal:login")]:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response.url.startswith(SETUP), url
    # A POST elsewhere is refused the same way, and the setup page itself is reachable.
    assert client.post(reverse("accounts:backup_codes_regenerate")).url.startswith(SETUP)
    assert client.get(SETUP).status_code == 200


def test_office_that_does_not_require_two_factor_lets_password_sessions_in(client, practitioner):
    from offices.models import Office

    Office.objects.update(require_two_factor=False)
    client.force_login(practitioner)
    assert client.get(reverse("accounts:overview")).status_code == 200


def test_removed_member_is_not_forced_into_two_factor_by_that_office(client, removed_member):
    client.force_login(removed_member)
    assert client.get(reverse("accounts:overview")).status_code == 200


def test_support_staff_always_need_two_factor_also_for_admin(client, support):
    client.force_login(support)
    response = client.get("/admin/")
    assert response.url.startswith(SETUP)


def test_setup_page_shows_a_qr_code_and_the_key_for_manual_entry(client, practitioner):
    client.force_login(practitioner)
    body = client.get(SETUP).content.decode()
    device = TOTPDevice.objects.get(user=practitioner)
    assert "<svg" in body
    import base64

    key = base64.b32encode(device.bin_key).decode()
    shown = re.search(r'<p class="secret-key"[^>]*><code>([A-Z2-7 ]+)</code>', body).group(1)
    assert shown.replace(" ", "") == key
    # Reloading keeps the same key, so a QR code already scanned stays valid.
    client.get(SETUP)
    assert TOTPDevice.objects.filter(user=practitioner).count() == 1


def test_setup_with_a_wrong_code_changes_nothing(client, practitioner):
    client.force_login(practitioner)
    client.get(SETUP)
    response = client.post(SETUP, {"code": "000000"})
    assert response.status_code == 400
    assert "did not match" in response.content.decode()
    assert not TOTPDevice.objects.filter(user=practitioner, confirmed=True).exists()
    assert AuditEvent.objects.filter(action="two_factor.setup_failed").count() == 1


def test_setup_confirms_device_shows_backup_codes_once_and_emails_the_user(
    client, practitioner, mailoutbox, django_capture_on_commit_callbacks
):
    client.force_login(practitioner)
    device, response = enable_two_factor(client, practitioner, django_capture_on_commit_callbacks)
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    codes = re.findall(r"<code>([0-9A-Z]{5}-[0-9A-Z]{5})</code>", response.content.decode())
    assert len(codes) == 10
    device.refresh_from_db()
    assert device.confirmed
    # The session is verified: the rest of the site opens.
    assert client.get(reverse("accounts:overview")).status_code == 200
    # Backup codes are stored only as keyed hashes.
    stored = list(BackupCode.objects.values_list("digest", flat=True))
    assert len(stored) == 10
    for code in codes:
        assert code.replace("-", "") not in stored
        assert backup_code_digest(code.replace("-", "")) in stored
    assert [m.to for m in mailoutbox] == [[practitioner.email]]
    assert "Two-factor authentication is now on" in mailoutbox[0].subject
    assert AuditEvent.objects.filter(action="two_factor.enabled", actor=practitioner).count() == 1


def login_with_password(client, user, password):
    response = client.post(reverse("account_login"), {"login": user.email, "password": password})
    assert response.status_code == 302
    return response


def test_password_login_of_a_user_with_authenticator_must_verify(client, patient, password):
    device = make_authenticator(patient)
    login_with_password(client, patient, password)
    response = client.get(reverse("accounts:overview"))
    assert response.url.startswith(VERIFY)
    response = client.post(VERIFY, {"code": current_totp(device), "next": "/accounts/"})
    assert response.status_code == 302
    assert response.url == "/accounts/"
    assert client.get(reverse("accounts:overview")).status_code == 200


def test_a_used_totp_code_cannot_be_used_again(client, patient, password):
    device = make_authenticator(patient)
    code = current_totp(device)
    login_with_password(client, patient, password)
    assert client.post(VERIFY, {"code": code}).status_code == 302
    client.post(reverse("account_logout"))
    login_with_password(client, patient, password)
    response = client.post(VERIFY, {"code": code})
    assert response.status_code == 400
    assert "already used" in response.content.decode()
    assert AuditEvent.objects.filter(action="two_factor.failed", actor=patient).count() == 1


def test_verify_refuses_open_redirects(client, patient, password):
    device = make_authenticator(patient)
    login_with_password(client, patient, password)
    response = client.post(VERIFY, {"code": current_totp(device), "next": "https://evil.example/"})
    assert response.url == reverse("home")


def backup_codes_for(user) -> list[str]:
    from outsmart.accounts.services import _backup_codes_replace

    return _backup_codes_replace(user=user)


def test_backup_code_works_once_and_tells_the_user(
    client, patient, password, mailoutbox, django_capture_on_commit_callbacks
):
    make_authenticator(patient)
    codes = backup_codes_for(patient)
    login_with_password(client, patient, password)
    typed = codes[0].lower()[:5] + " " + codes[0].lower()[5:]  # as a person might type it
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(VERIFY, {"code": typed}).status_code == 302
    assert "backup code" in mailoutbox[-1].subject
    assert "9 unused backup codes left" in mailoutbox[-1].body
    client.post(reverse("account_logout"))
    login_with_password(client, patient, password)
    assert client.post(VERIFY, {"code": codes[0]}).status_code == 400


def test_wrong_backup_code_is_refused_audited_and_counted(client, patient, password, settings):
    settings.TWO_FACTOR_FAILURE_LIMIT = (3, 900)
    make_authenticator(patient)
    backup_codes_for(patient)
    login_with_password(client, patient, password)
    for _ in range(3):
        assert client.post(VERIFY, {"code": "AAAAA-BBBBB"}).status_code in (400, 429)
    response = client.post(VERIFY, {"code": "AAAAA-BBBBB"})
    assert response.status_code == 429
    minutes = int(re.search(r"Try again in (\d+) minute", response.content.decode()).group(1))
    assert 1 <= minutes <= 15
    assert AuditEvent.objects.filter(action="two_factor.failed").count() == 3
    assert AuditEvent.objects.filter(action="two_factor.throttled").count() == 1


def test_throttled_user_is_refused_even_with_the_right_code(client, patient, password, settings):
    settings.TWO_FACTOR_FAILURE_LIMIT = (2, 900)
    device = make_authenticator(patient)
    login_with_password(client, patient, password)
    client.post(VERIFY, {"code": "111111"})
    client.post(VERIFY, {"code": "222222"})
    assert client.post(VERIFY, {"code": current_totp(device)}).status_code == 429
    assert client.get(reverse("accounts:overview")).status_code == 302


def test_normalise_backup_code_accepts_human_variants_and_rejects_junk():
    assert normalise_backup_code("abcde-fghjk") == "ABCDEFGHJK"
    assert normalise_backup_code(" ABCDE FGHJK ") == "ABCDEFGHJK"
    assert normalise_backup_code("OIL00-00000") == "01100" + "00000"
    for junk in ["", "ABCDE", "ABCDE-FGHJK-1", "ÄBCDE-FGHJK", "ABCDE\x00FGHJK", "x" * 10_000]:
        assert normalise_backup_code(junk) is None


@pytest.mark.django_db(transaction=True)
def test_one_backup_code_sent_twice_at_once_passes_once(patient):
    make_authenticator(patient)
    code = backup_codes_for(patient)[0]
    device = BackupCodeDevice.objects.get(user=patient)
    results = []
    barrier = threading.Barrier(8)

    def attempt():
        try:
            barrier.wait()
            results.append(BackupCodeDevice.objects.get(pk=device.pk).verify_token(code))
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results.count(True) == 1
    assert results.count(False) == 7


def test_regenerating_backup_codes_invalidates_the_old_ones(client, patient, verified_login):
    verified_login(patient)
    old = backup_codes_for(patient)
    response = client.post(reverse("accounts:backup_codes_regenerate"))
    new = re.findall(r"<code>([0-9A-Z]{5}-[0-9A-Z]{5})</code>", response.content.decode())
    assert len(new) == 10
    device = BackupCodeDevice.objects.get(user=patient)
    assert not device.verify_token(old[1])
    assert device.verify_token(new[1])


def test_patient_may_turn_two_factor_off_but_a_clinic_member_may_not(
    client, patient, practitioner, verified_login, django_capture_on_commit_callbacks, mailoutbox
):
    verified_login(patient)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("accounts:two_factor_disable"))
    assert not TOTPDevice.objects.filter(user=patient).exists()
    assert "turned off" in mailoutbox[-1].subject
    verified_login(practitioner)
    response = client.post(reverse("accounts:two_factor_disable"), follow=True)
    assert "requires two-factor" in response.content.decode()
    assert TOTPDevice.objects.filter(user=practitioner).exists()
