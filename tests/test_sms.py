"""SMS: number normalisation, the console, locmem and HTTP backends, and the SMS_URL contract."""

import base64
import json
import pickle
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.exceptions import ImproperlyConfigured

from outsmart import sms
from outsmart.env import sms_config
from outsmart.sms import SmsError, SmsMessage, phone_normalise, send_sms
from tests.test_settings import run_manage

NUMBER = "+15145550123"
BODY = "Your OutSmart access code: K7QM-2XPD"


@pytest.fixture(autouse=True)
def _empty_outbox():
    sms.outbox.clear()
    yield
    sms.outbox.clear()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("+15145550123", "+15145550123"),
        ("+1 (514) 555-0123", "+15145550123"),
        ("(514) 555-0123", "+15145550123"),
        ("514.555.0123", "+15145550123"),
        ("1-514-555-0123", "+15145550123"),
        ("  514 555 0123  ", "+15145550123"),
        ("+33 6 12 34 56 78", "+33612345678"),
        ("0033 6 12 34 56 78", "+33612345678"),
        ("+44 7700 900123", "+447700900123"),
        ("+49 1512 3456789", "+4915123456789"),
    ],
)
def test_phone_normalise_turns_a_written_mobile_number_into_e164(value, expected):
    assert phone_normalise(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        "",
        "   ",
        "514-555-012",  # 9 digits
        "06 12 34 56 78",  # a French local number: not North American, country unknown
        "07700 900123",  # a UK local number
        "+1 514 555 012",  # too short for +1
        "+1 114 555 0123",  # no North American area code starts with 1
        "+33 6",  # too short
        "+1234567890123456",  # 16 digits
        "+0033612345678",
        "++15145550123",
        "1+5145550123",
        "514-555-O123",  # a letter O
        "514 555 0123 ext 4",
        "+1 514 555 0123\n",
        "+1\t514 555 0123",
        "+1/514/555/0123",
        "٥١٤٥٥٥٠١٢٣",  # Arabic-Indic digits
        "５１４５５５０１２３",  # full-width digits
    ],
)
def test_phone_normalise_rejects_what_cannot_be_a_mobile_number(value):
    assert phone_normalise(value) is None


def test_locmem_backend_keeps_the_message_in_the_outbox(settings):
    settings.SMS_BACKEND = "outsmart.sms.LocmemBackend"
    send_sms(NUMBER, BODY)
    assert sms.outbox == [SmsMessage(to=NUMBER, body=BODY)]


def test_sending_to_a_number_not_in_e164_form_fails_for_good_without_sending(settings):
    settings.SMS_BACKEND = "outsmart.sms.LocmemBackend"
    with pytest.raises(SmsError) as raised:
        send_sms("(514) 555-0123", BODY)
    assert raised.value.transient is False
    assert sms.outbox == []


def test_console_backend_prints_the_recipient_and_the_body(settings, capsys):
    settings.SMS_BACKEND = "outsmart.sms.ConsoleBackend"
    send_sms(NUMBER, BODY)
    out = capsys.readouterr().out
    assert out.startswith(f"SMS to {NUMBER}\n{BODY}\n")
    assert sms.outbox == []


def test_sms_error_survives_pickling_with_its_kind_and_transience():
    error = SmsError("SMS provider answered 503", transient=True)
    copy = pickle.loads(pickle.dumps(error))  # noqa: S301 (our own bytes)
    assert (copy.kind, copy.transient, str(copy)) == (error.kind, True, error.kind)


# --- HttpBackend against a real local HTTP server -------------------------------------------


class FakeProvider(ThreadingHTTPServer):
    status = 201
    location = ""
    stall = False  # hold the reply until the test ends

    def __init__(self):
        super().__init__(("127.0.0.1", 0), FakeProviderHandler)
        self.requests = []
        self.release = threading.Event()

    def handle_error(self, request, client_address):
        pass  # the client gave up on a stalled reply; writing to it then fails

    def url(self, credentials="clinic:s3cr%40t"):
        return f"http://{credentials}@127.0.0.1:{self.server_address[1]}/v1/messages"


class FakeProviderHandler(BaseHTTPRequestHandler):
    server: FakeProvider

    def do_POST(self):
        length = int(self.headers["Content-Length"])
        self.server.requests.append(
            {"path": self.path, "headers": self.headers, "body": self.rfile.read(length)}
        )
        if self.server.stall:
            self.server.release.wait(5)
        reply = json.dumps({"error": f"cannot deliver to {NUMBER}"}).encode()
        self.send_response(self.server.status)
        if self.server.location:
            self.send_header("Location", self.server.location)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def do_GET(self):
        self.server.requests.append({"path": self.path, "headers": self.headers, "body": b""})
        self.send_response(204)
        self.end_headers()

    def log_message(self, format, *args):
        pass


@pytest.fixture
def provider(settings):
    server = FakeProvider()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings.SMS_BACKEND = "outsmart.sms.HttpBackend"
    settings.SMS_URL = server.url()
    settings.SMS_TIMEOUT = 5
    yield server
    server.release.set()
    server.shutdown()
    server.server_close()


def test_http_backend_posts_json_with_basic_auth_and_no_credentials_in_the_path(provider):
    send_sms(NUMBER, BODY)  # the fake answers 201
    [request] = provider.requests
    assert request["path"] == "/v1/messages"
    assert request["headers"]["Host"] == f"127.0.0.1:{provider.server_address[1]}"
    assert json.loads(request["body"]) == {"to": NUMBER, "body": BODY}
    assert request["headers"]["Content-Type"] == "application/json"
    expected = "Basic " + base64.b64encode(b"clinic:s3cr@t").decode()
    assert request["headers"]["Authorization"] == expected


def test_http_backend_sends_no_authorization_when_the_url_has_no_credentials(provider, settings):
    settings.SMS_URL = f"http://127.0.0.1:{provider.server_address[1]}/v1/messages"
    send_sms(NUMBER, BODY)
    [request] = provider.requests
    assert "Authorization" not in request["headers"]


@pytest.mark.parametrize(
    ("status", "transient"),
    [(500, True), (503, True), (429, True), (400, False), (401, False), (404, False)],
)
def test_http_backend_error_answer_says_whether_a_retry_may_help(provider, status, transient):
    provider.status = status
    with pytest.raises(SmsError) as raised:
        send_sms(NUMBER, BODY)
    assert raised.value.kind == f"SMS provider answered {status}"
    assert raised.value.transient is transient
    # The fake echoes the number in its reply; nothing of it may reach the error.
    assert NUMBER not in str(raised.value) and "K7QM" not in str(raised.value)


def test_http_backend_does_not_follow_a_redirect(provider):
    provider.status = 302
    provider.location = "/elsewhere"
    with pytest.raises(SmsError) as raised:
        send_sms(NUMBER, BODY)
    assert raised.value.kind == "SMS provider answered 302"
    assert raised.value.transient is False
    assert [r["path"] for r in provider.requests] == ["/v1/messages"]


def test_http_backend_reports_a_refused_connection_as_transient(settings):
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    settings.SMS_BACKEND = "outsmart.sms.HttpBackend"
    settings.SMS_URL = f"http://u:t@127.0.0.1:{port}/v1/messages"
    with pytest.raises(SmsError) as raised:
        send_sms(NUMBER, BODY)
    assert raised.value.kind == "SMS provider unreachable"
    assert raised.value.transient is True


def test_http_backend_gives_up_on_a_provider_slower_than_sms_timeout(provider, settings):
    provider.stall = True
    settings.SMS_TIMEOUT = 0.2
    with pytest.raises(SmsError) as raised:
        send_sms(NUMBER, BODY)
    assert raised.value.kind == "SMS provider timed out"
    assert raised.value.transient is True


# --- SMS_URL ----------------------------------------------------------------------------------


def test_sms_config_without_sms_url_is_none(monkeypatch):
    monkeypatch.delenv("SMS_URL", raising=False)
    assert sms_config("SMS_URL") is None


@pytest.mark.parametrize(
    ("value", "backend"),
    [("console://", "outsmart.sms.ConsoleBackend"), ("locmem://", "outsmart.sms.LocmemBackend")],
)
def test_sms_config_names_the_console_and_locmem_backends(monkeypatch, value, backend):
    monkeypatch.setenv("SMS_URL", value)
    assert sms_config("SMS_URL").backend == backend


def test_sms_config_keeps_the_endpoint_and_takes_the_timeout_out_of_it(monkeypatch):
    monkeypatch.setenv("SMS_URL", "https://ac1:tok@sms.example.com/v1/messages?account=7&timeout=4")
    config = sms_config("SMS_URL")
    assert config.backend == "outsmart.sms.HttpBackend"
    assert config.url == "https://ac1:tok@sms.example.com/v1/messages?account=7"
    assert config.timeout == 4
    monkeypatch.setenv("SMS_URL", "http://127.0.0.1:8025/sms")
    assert (sms_config("SMS_URL").url, sms_config("SMS_URL").timeout) == (
        "http://127.0.0.1:8025/sms",
        10,
    )


@pytest.mark.parametrize(
    "value",
    [
        "sms.example.com/v1/messages",
        "https://",
        "ftp://sms.example.com/",
        "carrier-pigeon://coop",
        "https://sms.example.com:99999/v1",
        "https://sms.example.com:port/v1",
        "https://sms.example.com/v1?timeout=soon",
        "https://sms.example.com/v1?timeout=0",
    ],
)
def test_malformed_sms_url_is_refused_naming_the_variable(monkeypatch, value):
    monkeypatch.setenv("SMS_URL", value)
    with pytest.raises(ImproperlyConfigured, match="SMS_URL"):
        sms_config("SMS_URL")


def test_settings_pick_console_in_debug_and_the_http_endpoint_from_sms_url():
    code = (
        "from django.conf import settings as s; "
        "print(s.SMS_BACKEND, s.SMS_URL or '-', s.SMS_TIMEOUT)"
    )
    result = run_manage("shell", "-v", "0", "-c", code, DEBUG="true", SMS_URL="")
    assert result.stdout.split() == ["outsmart.sms.ConsoleBackend", "-", "10"]
    url = "https://ac1:tok@sms.example.com/v1/messages"
    result = run_manage("shell", "-v", "0", "-c", code, SMS_URL=url + "?timeout=3")
    assert result.stdout.split() == ["outsmart.sms.HttpBackend", url, "3"]


def test_the_debug_page_hides_the_sms_providers_credentials(settings, rf):
    from django.views.debug import get_default_exception_reporter_filter

    settings.SMS_URL = "https://user:provider-token@sms.example.com/v1/messages"
    get_default_exception_reporter_filter.cache_clear()
    shown = get_default_exception_reporter_filter().get_safe_settings()
    assert "provider-token" not in str(shown["SMS_URL"])
    assert "provider-token" not in str(shown)
