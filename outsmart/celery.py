"""The Celery app. Configuration comes from Django settings (CELERY_* names)."""

import os

from celery import Celery
from celery.signals import before_task_publish, task_postrun, task_prerun

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "outsmart.settings")

app = Celery("outsmart")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


# Carry the web request's id into the task, so the audit events and log lines a worker writes
# can be traced back to the click that caused them.
@before_task_publish.connect
def _attach_request_id(headers=None, **kwargs):
    from outsmart.logging import current_request_id

    request_id = current_request_id()
    if headers is not None and request_id:
        headers.setdefault("outsmart_request_id", request_id)


@task_prerun.connect
def _restore_request_id(task=None, **kwargs):
    from outsmart.logging import set_request_id

    request_id = getattr(task.request, "outsmart_request_id", None) if task else None
    set_request_id(request_id or f"task-{task.request.id}" if task else None)


@task_postrun.connect
def _clear_request_id(**kwargs):
    from outsmart.logging import set_request_id

    set_request_id(None)


# Publishing gives up quickly: a web request must not hang while the broker is away.
PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.2}


def enqueue_on_commit(task, *args, **kwargs) -> None:
    """Queue `task` once the current transaction commits (never if it rolls back).

    If the broker cannot be reached the error is logged, not raised: the row the task is about
    is already committed with its state, and a periodic sweep queues it again later.
    """
    import logging

    from django.db import transaction

    def publish() -> None:
        from kombu.exceptions import OperationalError

        try:
            task.apply_async(args, kwargs, retry_policy=PUBLISH_RETRY_POLICY)
        except OperationalError as exc:  # kombu's name for "the broker is unreachable"
            logging.getLogger("outsmart.tasks").error(
                "could not queue %s (%s); the periodic sweep will retry",
                task.name,
                type(exc).__name__,
            )

    transaction.on_commit(publish)
