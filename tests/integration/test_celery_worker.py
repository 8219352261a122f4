"""A real Celery worker on Redis: tasks are published only when the transaction commits."""

import time

import pytest
from celery.contrib.testing.worker import start_worker
from django.core import mail
from django.db import transaction

from outsmart.celery import app
from outsmart.mail import email_queue
from tests.support import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


class Rollback(Exception):
    pass


def queue(subject_user):
    email_queue(to=[subject_user.email], name="two_factor_enabled", context={"user": subject_user})


def test_email_task_runs_after_commit_and_never_after_rollback(patient, admin):
    app.conf.task_always_eager = False
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        with transaction.atomic():
            queue(patient)
            # Not published before the commit: the worker cannot see it yet.
            time.sleep(0.3)
            assert mail.outbox == []
        assert wait_for(lambda: len(mail.outbox) == 1)
        assert mail.outbox[0].to == [patient.email]

        with pytest.raises(Rollback), transaction.atomic():
            queue(admin)
            raise Rollback
        # A later committed task is processed after anything queued before it (one solo
        # worker, one queue): once it arrives, the rolled-back one can no longer come.
        with transaction.atomic():
            queue(patient)
        assert wait_for(lambda: len(mail.outbox) == 2)
    assert [m.to for m in mail.outbox] == [[patient.email], [patient.email]]
