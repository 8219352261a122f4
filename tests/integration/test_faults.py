"""Faults in the broker, the worker, the mail server and the database, with real processes.

Each test starts what it breaks for itself, so the PostgreSQL and Redis the rest of the suite
uses are never touched: a private `redis-server` (no persistence) that the test stops and
starts again, `celery -A outsmart worker` subprocesses that the test kills with SIGKILL, an SMTP
server (aiosmtpd, in this process) that refuses or holds messages as the test says, and a private
PostgreSQL cluster (initdb + pg_ctl in a temporary directory, run as the postgres user) under a
real gunicorn. Private ports are taken from 8700-8799.

a. Redis stopped while an admin invites: the invitation is saved, the page says its email is
   queued, nothing else fails (sessions come from the database; see outsmart.cache), and once
   Redis is back the periodic sweep sends the email, exactly once.
b. The worker killed with SIGKILL in the middle of sending: after a restart and the re-queue
   sweep past the sending lease, the email has arrived exactly once.

   What exactly-once rests on, and the one window where it cannot hold: a send is claimed on
   the row ("sending", with the claim time) before anything is sent, and "sent" is recorded on
   the row right after the mail server accepts the message (its reply to DATA), before the
   goodbye (QUIT; outsmart.mail.message_send). A worker that dies before the server accepted
   leaves "sending": the sweep sends it again after the lease, and that is the only copy. A
   worker that dies after "sent" is recorded (for instance while a slow server says goodbye)
   leaves "sent": nothing is sent again. A worker that dies in the moment between the server's
   acceptance and that record (one UPDATE, a few milliseconds), or a server that keeps a message
   whose acceptance never reached us, leads to a second copy after the lease. No SMTP client can
   close that window; it is kept to one UPDATE, and the two copies carry the same link.
c. The SMTP server refusing for a while: retries with backoff, a Resend in the middle of them
   supersedes the old attempts, then "Email failed" with Resend on the team tab, and a Resend
   once the server is back: one email in all, with the newest link.
   (tests/integration/test_invitation_delivery.py has 451-then-accept, always-451 -> failed,
   550 -> failed at once, and broker-down-at-publish with the real worker.)
d. PostgreSQL restarted under load: every request is answered (no hang), as a page or as the
   503 page without a traceback, and the same gunicorn workers serve pages again once the
   database is back: one fast stop here; in `make faults` (marker `faults`, OUTSMART_FAULTS=1)
   also four stops and crashes in a row under reading and writing tabs, where no acknowledged
   write is lost and none is half done.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import http.client
import logging
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode

import pytest
from aiosmtpd.controller import Controller
from celery.contrib.testing.worker import start_worker
from django.conf import settings
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from invitations import services as invitation_services
from invitations.models import Invitation
from invitations.tasks import invitation_send, invitations_requeue
from outsmart.audit.models import AuditEvent
from outsmart.celery import app
from tests.factories import PatientFactory
from tests.support import reset_broker_connections, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]


def _postgres_bin() -> Path:
    """The PostgreSQL server binaries: OUTSMART_PG_BIN, or Debian's newest installed."""
    if os.environ.get("OUTSMART_PG_BIN"):
        return Path(os.environ["OUTSMART_PG_BIN"])
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    return found[-1].parent if found else Path("/usr/lib/postgresql/15/bin")


PG_BIN = _postgres_bin()
INVITEE = "new.colleague@example.com"
LINK = re.compile(r"https?://[^/\s]+/invitations/([A-Za-z0-9_-]+)/(?=\s)")


def free_port() -> int:
    """A free loopback port in 8700-8799 (the range for this suite's private services)."""
    ports = list(range(8700, 8800))
    random.shuffle(ports)
    for port in ports:
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 8700-8799")


@pytest.fixture
def report(request, capsys):
    """Writes a line of numbers to the terminal (what a fault run saw), past output capture."""

    def write(line: str) -> None:
        with capsys.disabled():
            print(f"\n    {request.node.name}: {line}", flush=True)

    return write


class Lines(logging.Handler):
    """Collects what `logger_name` logs."""

    def __init__(self, logger_name: str):
        super().__init__(logging.DEBUG)
        self.logger = logging.getLogger(logger_name)
        self.lines: list[str] = []

    def emit(self, record):
        self.lines.append(record.getMessage())

    def __enter__(self):
        self.logger.addHandler(self)
        return self.lines

    def __exit__(self, *exc):
        self.logger.removeHandler(self)


# --- the SMTP server ---------------------------------------------------------------------------
@dataclass
class Received:
    rcpt_tos: list[str]
    message: email.message.EmailMessage

    @property
    def text(self) -> str:
        return self.message.get_body(preferencelist=("plain",)).get_content()


class Sink:
    """Answers each message with the next scripted reply (then `default`). `hold_data` keeps
    the next message waiting for its answer (the server has not accepted it yet); `hold_quit`
    keeps the next goodbye waiting after the message was accepted. Either wait ends when the
    client goes away. Runs in aiosmtpd's event loop thread."""

    def __init__(self):
        self.script: list[str] = []
        self.default = "250 OK"
        self.accepted: list[Received] = []
        self.refused: list[str] = []
        self.abandoned: list[list[str]] = []  # held, and the client died before our answer
        self.hold_data = False
        self.hold_quit = False
        self.holding = threading.Event()

    async def handle_DATA(self, server, session, envelope):
        if self.hold_data:
            self.hold_data = False
            self.holding.set()
            try:
                await asyncio.sleep(120)
            except asyncio.CancelledError:  # the connection was lost before we answered
                self.abandoned.append(list(envelope.rcpt_tos))
                raise
        reply = self.script.pop(0) if self.script else self.default
        if reply.startswith("250"):
            message = email.message_from_bytes(
                envelope.original_content or envelope.content, policy=email.policy.default
            )
            self.accepted.append(Received(list(envelope.rcpt_tos), message))
        else:
            self.refused.append(reply)
        return reply

    async def handle_QUIT(self, server, session, envelope):
        if self.hold_quit:
            self.hold_quit = False
            self.holding.set()
            await asyncio.sleep(120)
        return "221 Bye"


@pytest.fixture
def sink(settings):
    handler = Sink()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    # For workers in this process (read when a connection is made).
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = controller.port
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 5
    handler.url = f"smtp://127.0.0.1:{controller.port}?timeout=5"
    yield handler
    controller.stop()


# --- processes ---------------------------------------------------------------------------------
def database_url() -> str:
    db = connection.settings_dict
    credentials = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{credentials}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"


def process_env(**overrides: str) -> dict[str, str]:
    """The environment of a web or worker process of this test: production settings (DEBUG
    off) on this test's database and Redis database, unless told otherwise."""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "outsmart.settings",
        "DATABASE_URL": database_url(),
        "REDIS_URL": settings.CELERY_BROKER_URL,
        "SECRET_KEY": settings.SECRET_KEY,
        "ACCESS_CODE_SECRET": settings.ACCESS_CODE_SECRET,
        "DEBUG": "false",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "false",
        "PYTHONUNBUFFERED": "1",
        **overrides,
    }


class Process:
    """A subprocess in its own process group, its output in a log file."""

    def __init__(self, name: str, argv: list[str], env: dict, log_dir: Path, cwd: Path = ROOT):
        self.name, self.argv, self.env, self.cwd = name, argv, env, cwd
        self.log_dir = log_dir
        self.process: subprocess.Popen | None = None
        self.starts = 0

    @property
    def log_path(self) -> Path:
        return self.log_dir / f"{self.name}-{self.starts}.log"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def start(self, ready: str, timeout: float = 30.0) -> None:
        self.starts += 1
        with open(self.log_path, "wb") as out:
            self.process = subprocess.Popen(
                self.argv,
                cwd=self.cwd,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        if not wait_for(lambda: ready in self.log() or self.process.poll() is not None, timeout):
            pytest.fail(f"{self.name} did not start:\n{self.log()[-3000:]}")
        if self.process.poll() is not None:
            pytest.fail(f"{self.name} exited at start:\n{self.log()[-3000:]}")

    def kill(self) -> None:
        """SIGKILL to the whole group, as the kernel's OOM killer or `docker kill` would."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()


def celery_worker(name: str, log_dir: Path, **env: str) -> Process:
    argv = [sys.executable, "-m", "celery", "-A", "outsmart", "worker", "-l", "info"]
    argv += ["-P", "prefork", "-c", "1", "-n", f"{name}@%h"]
    argv += ["--without-gossip", "--without-mingle", "--without-heartbeat"]
    return Process(name, argv, process_env(**env), log_dir)


@pytest.fixture
def processes():
    started: list[Process] = []
    yield started
    for process in started:
        process.kill()


@pytest.fixture
def broker():
    """Publish to the broker (not eagerly), from an empty queue."""
    app.conf.task_always_eager = False
    app.control.purge()
    yield
    app.conf.task_always_eager = True


class PrivateRedis:
    def __init__(self, log_dir: Path):
        self.port = free_port()
        self.log_dir = log_dir
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        argv = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]
        argv += ["--save", "", "--appendonly", "no", "--dir", str(self.log_dir)]
        with open(self.log_dir / "redis.log", "ab") as log:
            self.process = subprocess.Popen(
                argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        assert wait_for(self.answers, 10), "the private redis-server did not start"

    def answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        assert not self.answers()


@pytest.fixture
def private_redis(tmp_path, settings):
    """A redis-server of this test only, used as the cache and the broker of this process."""
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    redis = PrivateRedis(tmp_path)
    redis.start()
    broker_url = app.conf.broker_url
    settings.CACHES = {"default": {**settings.CACHES["default"], "LOCATION": redis.url}}
    settings.CELERY_BROKER_URL = redis.url
    app.conf.broker_url = redis.url
    reset_broker_connections()
    yield redis
    app.conf.broker_url = broker_url
    reset_broker_connections()
    if redis.answers():
        redis.stop()


# --- helpers -----------------------------------------------------------------------------------
def state(invitation: Invitation) -> str:
    invitation.refresh_from_db()
    return invitation.delivery_state


def audit_actions(invitation: Invitation) -> list[str]:
    return list(
        AuditEvent.objects.filter(
            target_type="invitations.invitation", target_id=str(invitation.pk)
        )
        .order_by("created_at", "pk")
        .values_list("action", flat=True)
    )


def pending_entry(client, invitation: Invitation) -> str:
    """The invitation's entry on the Practitioners and Staff tab."""
    page = client.get(reverse("offices:team"))
    assert page.status_code == 200
    resend = reverse("invitations:resend", args=[invitation.pk])
    match = re.search(
        r"<li>(?:(?!</li>).)*?" + re.escape(resend) + r".*?</li>", page.content.decode(), re.S
    )
    assert match, f"no pending entry for invitation {invitation.pk}"
    return match.group(0)


def invite_by_form(client) -> tuple[Invitation, str]:
    response = client.post(
        reverse("invitations:create", args=["staff"]),
        {"email": INVITEE, "name": "", "message": ""},
        follow=True,
    )
    assert response.status_code == 200
    return Invitation.objects.get(email=INVITEE), response.content.decode()


def links_in(received: Received) -> list[str]:
    return LINK.findall(received.text)


def overdue(invitation: Invitation, by: timedelta) -> None:
    """Move the row's clock back, as if `by` had passed (the sweep compares with it)."""
    Invitation.objects.filter(pk=invitation.pk).update(delivery_due_at=timezone.now() - by)


# --- a. Redis stopped while an admin invites ---------------------------------------------------
def test_redis_stopped_while_an_admin_invites_the_email_is_sent_once_redis_is_back(
    private_redis, sink, broker, processes, tmp_path, office, admin, verified_login, report
):
    client = verified_login(admin)  # session in the database and in the private Redis
    worker = celery_worker("worker-a", tmp_path, REDIS_URL=private_redis.url, EMAIL_URL=sink.url)
    processes.append(worker)
    worker.start(ready=" ready.")

    private_redis.stop()
    with Lines("outsmart.tasks") as queue_log, Lines("outsmart.cache") as cache_log:
        invitation, page = invite_by_form(client)
    # The admin is told, on the page, that the invitation is saved and its email queued.
    assert f"Invitation to {INVITEE} saved. Its email is on its way" in page
    assert "Email queued" in pending_entry(client, invitation)
    assert invitation.status == "pending"
    assert (invitation.delivery_state, invitation.delivery_attempts) == ("queued", 0)
    assert queue_log == [
        "could not queue invitations.send (OperationalError); the periodic sweep will retry"
    ]
    assert any(line.startswith("cache unavailable") for line in cache_log)
    assert sink.accepted == []

    private_redis.start()  # empty: whatever Redis held is gone
    # The worker reconnects by itself (no restart)...
    assert wait_for(lambda: worker.log().count("Connected to redis") >= 2, 30), worker.log()
    # ...but the task message was lost with the outage: nothing arrives by itself.
    time.sleep(0.5)
    assert sink.accepted == [] and state(invitation) == "queued"
    # Until the sweep (beat, every minute) finds the row five minutes overdue.
    assert invitations_requeue() == 0
    overdue(invitation, timedelta(minutes=6))
    assert invitations_requeue() == 1
    assert wait_for(lambda: state(invitation) == "sent"), worker.log()[-3000:]
    time.sleep(1.0)  # and no second copy follows
    assert invitations_requeue() == 0
    assert len(sink.accepted) == 1
    [received] = sink.accepted
    assert received.rcpt_tos == [INVITEE]
    [token] = links_in(received)
    assert invitation_services.invitation_by_token(token) == invitation
    assert audit_actions(invitation).count("invitation.sent") == 1
    assert "Email sent" in pending_entry(client, invitation)
    report(f"emails accepted {len(sink.accepted)}, attempts {invitation.delivery_attempts}")


# --- b. the worker killed in the middle of sending ---------------------------------------------
def invite_and_wait_until_held(office, admin, sink) -> Invitation:
    from django.db import transaction

    with transaction.atomic():
        invitation = invitation_services.invitation_create(
            office=office, email=INVITEE, role="staff", invited_by=admin
        )
    assert sink.holding.wait(20), "the worker never reached the mail server"
    return invitation


def test_worker_killed_while_the_server_has_not_accepted_yet_sends_once_after_restart(
    sink, broker, processes, tmp_path, office, admin, verified_login, report
):
    worker = celery_worker("worker-b", tmp_path, EMAIL_URL=sink.url)
    processes.append(worker)
    worker.start(ready=" ready.")
    sink.hold_data = True
    invitation = invite_and_wait_until_held(office, admin, sink)
    assert (state(invitation), invitation.delivery_attempts) == ("sending", 1)

    worker.kill()  # SIGKILL, mid-DATA
    assert wait_for(lambda: sink.abandoned == [[INVITEE]], 10)
    assert sink.accepted == []

    worker.start(ready=" ready.")
    # The killed worker's message stays unacknowledged in Redis (for the visibility timeout),
    # and the row stays claimed until the sending lease passes: nothing is sent yet.
    time.sleep(0.5)
    assert sink.accepted == [] and state(invitation) == "sending"
    assert invitations_requeue() == 0
    overdue(invitation, timedelta(minutes=11))  # past the 10-minute lease
    assert invitations_requeue() == 1
    assert wait_for(lambda: state(invitation) == "sent"), worker.log()[-3000:]
    # The lost message, redelivered at last (after the visibility timeout), finds it sent.
    invitation_send.delay(invitation.pk)
    assert wait_for(lambda: "invitations.send" in worker.log() and "skipped" in worker.log())
    time.sleep(0.5)
    assert invitations_requeue() == 0
    assert len(sink.accepted) == 1
    assert links_in(sink.accepted[0])
    assert invitation.delivery_attempts == 2
    assert audit_actions(invitation).count("invitation.sent") == 1
    worker.stop()
    assert "Email sent" in pending_entry(verified_login(admin), invitation)
    report(
        f"abandoned by the killed worker {len(sink.abandoned)}, accepted {len(sink.accepted)}, "
        f"attempts {invitation.delivery_attempts}"
    )


def test_worker_killed_after_the_server_accepted_sends_nothing_again(
    sink, broker, processes, tmp_path, office, admin, report
):
    """The worker dies while the server is slow to say goodbye, after it accepted the message:
    "sent" is already on the row, so neither a restart nor the sweep sends a second copy."""
    # The worker waits up to 30 s for the goodbye; it is killed long before.
    email_url = sink.url.replace("timeout=5", "timeout=30")
    worker = celery_worker("worker-b2", tmp_path, EMAIL_URL=email_url)
    processes.append(worker)
    worker.start(ready=" ready.")
    sink.hold_quit = True
    invitation = invite_and_wait_until_held(office, admin, sink)
    assert len(sink.accepted) == 1
    # "sent" is on the row while the goodbye is still unanswered.
    assert wait_for(lambda: state(invitation) == "sent", 10)

    worker.kill()  # SIGKILL, waiting for the server's goodbye
    overdue(invitation, timedelta(minutes=11))
    assert invitations_requeue() == 0  # a sent row is never swept
    # The killed worker's message, redelivered after the visibility timeout, finds it sent.
    app.conf.task_always_eager = True
    assert invitation_send(invitation.pk) == "skipped"
    assert len(sink.accepted) == 1
    assert state(invitation) == "sent"
    assert audit_actions(invitation).count("invitation.sent") == 1
    report(f"accepted {len(sink.accepted)}, row {invitation.delivery_state}")


# --- c. the SMTP server refusing for a while ---------------------------------------------------
@contextmanager
def worker_thread():
    """A worker in this process (so the `fast_retries` fixture applies to it)."""
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        yield
    app.control.purge()  # retries scheduled for later went back to the queue


def test_smtp_refusing_for_a_while_retries_fails_with_resend_and_never_sends_twice(
    sink, broker, fast_retries, office, admin, verified_login, report
):
    client = verified_login(admin)
    sink.default = "451 4.3.0 Try again later"
    with worker_thread():
        invitation, _page = invite_by_form(client)
        first_link = invitation.token
        assert wait_for(lambda: len(sink.refused) >= 2)
        # The admin clicks Resend while the retries go on: a new link, a new count of tries,
        # and the old attempts can no longer record anything over it.
        assert client.post(reverse("invitations:resend", args=[invitation.pk])).status_code == 302
        invitation.refresh_from_db()
        second_link = invitation.token
        assert wait_for(lambda: state(invitation) == "failed", 30)
        time.sleep(1.0)  # no try after "failed"
        refused = len(sink.refused)
        entry = pending_entry(client, invitation)
        assert "Email failed" in entry and "mail server answered 451" in entry
        assert f'aria-label="Resend invitation to {INVITEE}"' in entry
        assert sink.accepted == []

        # The mail server is back; the admin clicks Resend on the failed invitation.
        sink.default = "250 OK"
        assert client.post(reverse("invitations:resend", args=[invitation.pk])).status_code == 302
        invitation.refresh_from_db()
        third_link = invitation.token
        assert wait_for(lambda: state(invitation) == "sent")
        time.sleep(1.0)  # nothing else on its way
    assert len(sink.refused) == refused
    assert len(sink.accepted) == 1
    [token] = links_in(sink.accepted[0])
    assert invitation_services.invitation_by_token(token) == invitation
    assert token == third_link
    for old in (first_link, second_link):
        assert invitation_services.invitation_by_token(old) is None
    actions = audit_actions(invitation)
    assert actions.count("invitation.sent") == 1
    assert actions.count("invitation.resent") == 2
    assert actions.count("invitation.failed") == 1
    assert "Email sent" in pending_entry(client, invitation)
    report(f"refused {len(sink.refused)}, accepted {len(sink.accepted)}; audit {actions}")


# --- d. PostgreSQL restarted under load --------------------------------------------------------
class PrivatePostgres:
    """A PostgreSQL cluster of this test only, in a temporary directory, as the postgres user."""

    def __init__(self):
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="outsmart-faults-pg-"))
        self.data = self.dir / "data"
        self.as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self.as_postgres:
            shutil.chown(self.dir, "postgres", "postgres")

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/outsmart"

    def _run(self, *argv, timeout=60) -> str:
        done = subprocess.run(
            [*self.as_postgres, *map(str, argv)], capture_output=True, text=True, timeout=timeout
        )
        assert done.returncode == 0, f"{argv[0]}: {done.stdout}\n{done.stderr}"
        return done.stdout

    def create(self) -> None:
        initdb = [PG_BIN / "initdb", "-D", self.data, "-A", "trust", "-U", "postgres"]
        self._run(*initdb, "-E", "UTF8", "--no-sync")
        self.start()
        self._run(PG_BIN / "createdb", "-h", "127.0.0.1", "-p", self.port, "outsmart")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        pg_ctl = [PG_BIN / "pg_ctl", "-D", self.data, "-l", self.dir / "log", "-w", "-t", "30"]
        self._run(*pg_ctl, "-o", options, "start")

    def stop(self, mode: str = "fast") -> None:
        self._run(PG_BIN / "pg_ctl", "-D", self.data, "-m", mode, "-w", "-t", "30", "stop")

    def copy_of(self, source_url: str) -> None:
        """Schema and rows of the test database, into this cluster."""
        dump = subprocess.run(
            [PG_BIN / "pg_dump", "--no-owner", "--no-privileges", "-d", source_url],
            capture_output=True,
            check=True,
            timeout=60,
        ).stdout
        load = subprocess.run(
            [PG_BIN / "psql", "-q", "-v", "ON_ERROR_STOP=1", "-d", self.url],
            input=dump,
            capture_output=True,
            timeout=60,
        )
        assert load.returncode == 0, load.stderr.decode()

    def destroy(self) -> None:
        subprocess.run(
            [*self.as_postgres, PG_BIN / "pg_ctl", "-D", self.data, "-m", "immediate", "stop"],
            capture_output=True,
            timeout=30,
        )
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def private_postgres():
    if not (PG_BIN / "initdb").exists():
        pytest.skip(f"no PostgreSQL server binaries in {PG_BIN}")
    cluster = PrivatePostgres()
    try:
        cluster.create()
        yield cluster
    finally:
        cluster.destroy()


@dataclass(frozen=True)
class Answer:
    started: float
    finished: float
    status: int  # 0: no answer at all (connection error or timeout)
    body: str
    location: str = ""
    error: str = ""
    name: str = ""  # the patient a POST tried to add


def call(port: int, cookie: str, path: str, form: dict | None = None, timeout=15.0) -> Answer:
    """One request, as a browser tab of the session in `cookie` would send it."""
    started = time.monotonic()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    headers = {"Cookie": f"{cookie}; csrftoken={CSRF}", "Host": "127.0.0.1"}
    try:
        if form is None:
            conn.request("GET", path, headers=headers)
        else:
            body = urlencode(form)
            headers |= {"Content-Type": "application/x-www-form-urlencoded", "X-CSRFToken": CSRF}
            conn.request("POST", path, body=body, headers=headers)
        response = conn.getresponse()
        text = response.read().decode(errors="replace")
        location = response.getheader("Location", "")
        return Answer(started, time.monotonic(), response.status, text, location)
    except (OSError, http.client.HTTPException) as error:
        return Answer(started, time.monotonic(), 0, "", error=f"{type(error).__name__}: {error}")
    finally:
        conn.close()


CSRF = "faultsfaultsfaultsfaultsfaults00"  # 32 characters: a CSRF secret (cookie and header)


@dataclass
class ClinicWeb:
    """gunicorn (production settings, two workers) on a private PostgreSQL cluster holding a
    copy of this test's database, and a verified staff session of the Lakeside Clinic."""

    postgres: PrivatePostgres
    web: Process
    port: int
    cookie: str
    chart_name: str

    def get(self, path: str) -> Answer:
        return call(self.port, self.cookie, path)

    def add_patient(self, last_name: str) -> Answer:
        form = {"first_name": "Load", "last_name": last_name, "date_of_birth": "1990-01-02"}
        answer = call(self.port, self.cookie, reverse("records:patient_create"), form)
        return Answer(**{**answer.__dict__, "name": last_name})

    def query(self, sql: str, *params):
        import psycopg

        with psycopg.connect(self.postgres.url.replace("postgres://", "postgresql://", 1)) as db:
            return db.execute(sql, params).fetchall()


@pytest.fixture
def clinic_web(private_postgres, processes, tmp_path, office, staff, verified_login):
    chart = PatientFactory(office=office, first_name="Astrid", last_name="Lindqvist")
    session = verified_login(staff).cookies[settings.SESSION_COOKIE_NAME].value
    private_postgres.copy_of(database_url())  # the staff member, the chart, the session

    env = {"DATABASE_URL": private_postgres.url, "OUTSMART_VAR_DIR": str(tmp_path / "var")}
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"],
        cwd=ROOT,
        env=process_env(**env),
        check=True,
        timeout=120,
    )
    port = free_port()
    web = Process(
        "gunicorn",
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "outsmart.wsgi"],
        process_env(**env, PORT=str(port), WEB_CONCURRENCY="2"),
        tmp_path,
    )
    processes.append(web)
    web.start(ready="Booting worker", timeout=30)
    assert wait_for(lambda: web.log().count("Booting worker") == 2, 20)
    site = ClinicWeb(
        private_postgres, web, port, f"{settings.SESSION_COOKIE_NAME}={session}", chart.last_name
    )
    assert wait_for(lambda: site.get(reverse("records:patients")).status == 200, 20), web.log()[
        -3000:
    ]
    return site


@contextmanager
def under_load(site: ClinicWeb, readers: int, writers: int = 0):
    """Tabs that load the patient list (and add patients) as fast as they are answered."""
    answers: list[Answer] = []
    lock = threading.Lock()
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            answer = site.get(reverse("records:patients"))
            with lock:
                answers.append(answer)

    def write(n: int) -> None:
        for i in range(100_000):
            if stop.is_set():
                break
            answer = site.add_patient(f"Writer{n}x{i}")
            with lock:
                answers.append(answer)

    threads = [threading.Thread(target=read) for _ in range(readers)]
    threads += [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    try:
        yield answers
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)


def check_outage(site: ClinicWeb, answers: list[Answer], down: float, up: float) -> dict:
    """What every restart must show; returns counts for the summary."""
    # Every request got an answer: no hang, no dropped connection.
    assert [a.error for a in answers if a.status == 0] == []
    assert {a.status for a in answers} <= {200, 302, 503}, {a.status for a in answers}
    during = [a for a in answers if a.started < up and a.finished > down]  # met the outage
    refused = [a for a in during if a.status == 503]
    assert refused, "the load did not meet the outage"
    for answer in (a for a in answers if a.status == 503):
        assert "Temporarily unavailable" in answer.body and "try again" in answer.body
        assert "Traceback" not in answer.body and "psycopg" not in answer.body
        assert answer.name == "" or answer.location == ""
    # Served before the outage, and again by the same workers from the moment it ended.
    for answer in answers:
        if answer.finished < down or answer.started > up:
            if answer.name:  # a patient added: sent on to the new patient's page
                assert answer.status == 302 and "/patients/" in answer.location, answer
            else:
                assert answer.status == 200 and site.chart_name in answer.body, answer.status
    assert site.web.log().count("Booting worker") == 2, site.web.log()[-3000:]
    assert site.web.process.poll() is None
    return {"answers": len(answers), "during": len(during), "503": len(refused)}


def restart(site: ClinicWeb, mode: str, outage: float) -> tuple[float, float]:
    down = time.monotonic()
    site.postgres.stop(mode)  # fast: connections cut; immediate: a crash (recovery at start)
    time.sleep(outage)
    site.postgres.start()
    return down, time.monotonic()


def test_postgresql_restarted_under_load_fails_cleanly_and_recovers_without_a_restart(
    clinic_web, report
):
    with under_load(clinic_web, readers=6) as answers:
        time.sleep(1.0)
        down, up = restart(clinic_web, "fast", 2.0)
        assert wait_for(lambda: len([a for a in answers if a.started > up]) >= 30, 30)
    counts = check_outage(clinic_web, answers, down, up)
    report(f"PostgreSQL fast stop, 2 s down: {counts}")


@pytest.mark.faults
@pytest.mark.skipif(
    not os.environ.get("OUTSMART_FAULTS"), reason="a longer fault run: `make faults` runs it"
)
def test_postgresql_restarted_and_crashed_again_and_again_under_reads_and_writes(
    clinic_web, report
):
    """Four outages (fast shutdowns and crashes, 0-5 s down) under twelve reading and four
    writing tabs. On top of each outage's checks: no acknowledged patient is lost, and no
    patient exists without its audit event (a write is all or nothing)."""
    cycles = [("fast", 2.0), ("immediate", 2.0), ("fast", 5.0), ("immediate", 0.0)]
    with under_load(clinic_web, readers=12, writers=4) as answers:
        for mode, outage in cycles:
            time.sleep(2.0)
            mark = len(answers)
            down, up = restart(clinic_web, mode, outage)
            assert wait_for(lambda up=up: len([a for a in answers if a.started > up]) >= 60, 30)
            counts = check_outage(clinic_web, list(answers[mark:]), down, up)
            report(f"PostgreSQL {mode} stop, {outage:.0f} s down: {counts}")
    acknowledged = {a.name for a in answers if a.name and a.status == 302}
    stored = {
        name
        for (name,) in clinic_web.query(
            "SELECT last_name FROM records_patient WHERE last_name LIKE 'Writer%%'"
        )
    }
    assert acknowledged <= stored, acknowledged - stored
    unaudited = clinic_web.query(
        "SELECT p.id FROM records_patient p WHERE p.last_name LIKE 'Writer%%' AND NOT EXISTS "
        "(SELECT 1 FROM audit_auditevent e WHERE e.action = 'patient.created' "
        "AND e.target_id = p.id::text)"
    )
    assert unaudited == []
    refused_writes = len([a for a in answers if a.name and a.status == 503])
    report(
        f"patients added: {len(acknowledged)} acknowledged, {len(stored)} stored, "
        f"{refused_writes} refused with 503 during the outages"
    )
