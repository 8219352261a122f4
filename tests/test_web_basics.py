"""Request ids, logs without secrets, error pages, the development outbox."""

import logging

import pytest
from django.core import mail
from django.test import override_settings
from django.urls import clear_url_caches, reverse

from outsmart.logging import RedactFilter

pytestmark = pytest.mark.django_db


def test_every_response_carries_a_request_id_and_a_safe_incoming_one_is_kept(client):
    response = client.get(reverse("account_login"))
    assert len(response["X-Request-ID"]) == 32
    kept = client.get(reverse("account_login"), HTTP_X_REQUEST_ID="proxy-1234abcd")
    assert kept["X-Request-ID"] == "proxy-1234abcd"
    forged = client.get(reverse("account_login"), HTTP_X_REQUEST_ID="bad\r\nSet-Cookie: x")
    assert forged["X-Request-ID"] != "bad\r\nSet-Cookie: x"


def test_request_log_names_the_route_not_the_path_so_tokens_stay_out(client, caplog):
    with caplog.at_level(logging.INFO, logger="outsmart.request"):
        client.get("/accounts/password/reset/key/abc-SECRETTOKEN123/")
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "SECRETTOKEN123" not in text
    assert "GET /accounts/password/reset/key/" in text


def test_redact_filter_scrubs_tokens_codes_and_passwords():
    record = logging.LogRecord(
        "x",
        logging.WARNING,
        __file__,
        1,
        "Not Found: %s",
        ("/accounts/password/reset/key/1-abc/?code=tiger",),
        None,
    )
    RedactFilter().filter(record)
    message = record.getMessage()
    assert "abc" not in message and "tiger" not in message
    assert "[redacted]" in message


def test_unknown_url_gets_the_styled_404_revealing_nothing(client):
    response = client.get("/no/such/page/<script>/")
    assert response.status_code == 404
    body = response.content.decode()
    assert "We can’t find that page" in body
    assert "Traceback" not in body and "urlpatterns" not in body
    assert "<script>" not in body


def test_server_error_page_reveals_nothing(client):
    from outsmart import urls

    def boom(request):
        raise RuntimeError("secret internals 42")

    from django.urls import path

    urls.urlpatterns.append(path("test-boom/", boom))
    clear_url_caches()
    try:
        client.raise_request_exception = False
        response = client.get("/test-boom/")
    finally:
        urls.urlpatterns.pop()
        clear_url_caches()
    assert response.status_code == 500
    body = response.content.decode()
    assert "Something went wrong on our side" in body
    assert "secret internals" not in body


def test_csrf_failure_page_explains_what_to_do(client, patient):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    response = strict.post(reverse("account_login"), {"login": "a@b.c", "password": "x"})
    assert response.status_code == 403
    assert "Your form expired" in response.content.decode()


def test_outbox_backend_keeps_messages_and_outbox_page_lists_them(settings, tmp_path, client):
    settings.EMAIL_BACKEND = "outsmart.devtools.mail.OutboxEmailBackend"
    settings.OUTBOX_DIR = tmp_path
    message = mail.EmailMultiAlternatives(
        "Hello <b>", "Open https://example.org/x please", "from@example.org", ["to@example.org"]
    )
    message.attach_alternative("<p>Open <a href='https://example.org/x'>it</a></p>", "text/html")
    message.send()
    files = list(tmp_path.glob("*.eml"))
    assert len(files) == 1
    with override_settings(DEBUG=True):
        from importlib import reload

        from outsmart import urls

        reload(urls)
        clear_url_caches()
        with override_settings(ROOT_URLCONF=urls):
            listing = client.get("/dev/outbox/")
            assert "Hello &lt;b&gt;" in listing.content.decode()
            detail = client.get(f"/dev/outbox/{files[0].name}/")
            assert '<a href="https://example.org/x"' in detail.content.decode()
            html = client.get(f"/dev/outbox/{files[0].name}/html/")
            assert "sandbox" in html["Content-Security-Policy"]
            assert client.get("/dev/outbox/..%2Fetc%2Fpasswd/").status_code == 404
            assert client.get("/dev/outbox/123-deadbeef.eml/").status_code == 404
    reload(urls)
    clear_url_caches()


def test_outbox_is_not_served_with_debug_off(client):
    assert client.get("/dev/outbox/").status_code == 404


def test_healthz_answers_ok_through_the_middleware_without_touching_the_database(
    client, django_assert_num_queries, admin
):
    # A load balancer's probe: plain "ok", through every middleware (request id, security
    # headers), and no query, so probing never loads the database.
    with django_assert_num_queries(0):
        response = client.get("/healthz")
    assert response.status_code == 200
    assert response.content == b"ok"
    assert response["Content-Type"].startswith("text/plain")
    assert len(response["X-Request-ID"]) == 32
    assert response["X-Frame-Options"] == "DENY"
    # A logged-in person without their second factor is sent to it, like everywhere else: the
    # probe is not a way around the two-factor gate.
    client.force_login(admin)
    assert client.get("/healthz").status_code == 302
