"""The Celery app. Configuration comes from Django settings (CELERY_* names)."""

import os

from celery import Celery
from celery.signals import before_task_publish, task_postrun, task_prerun

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "outsmart.settings")

app = Celery("outsmart")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.include = ["outsmart.mail"]
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
