"""Row-driven delivery, shared by invitation emails and access-code emails and SMS.

The row holds the delivery state (queued, sending, sent, failed), the attempt count and the
time it became due (queued) or was claimed (sending). A task carries only the row's id and
claims the row with one conditional UPDATE before it sends, so two messages for one send cannot
both send; a sweep re-queues rows whose message was lost (broker down) or whose worker died.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from outsmart.celery import PUBLISH_RETRY_POLICY
from outsmart.mail import MAX_RETRIES, RETRY_BACKOFF, RETRY_BACKOFF_MAX

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = MAX_RETRIES  # "at most 5 tries"
# A queued row nobody picked up for this long lost its task message: queue it again.
REQUEUE_AFTER = timedelta(minutes=5)
# A row claimed this long ago by a worker that never reported back: that worker died.
SENDING_LEASE = timedelta(minutes=10)
SWEEP_BATCH = 500

QUEUED, SENDING = "queued", "sending"


def claim(rows: QuerySet) -> bool:
    """Take `rows` (one row, already filtered on what makes it still worth sending) for
    sending: queued, or sending past the lease. Exactly one of many concurrent claims wins."""
    now = timezone.now()
    claimable = Q(delivery_state=QUEUED) | Q(
        delivery_state=SENDING, delivery_due_at__lt=now - SENDING_LEASE
    )
    return bool(
        rows.filter(claimable).update(
            delivery_state=SENDING,
            delivery_due_at=now,
            delivery_attempts=F("delivery_attempts") + 1,
        )
    )


def retry_countdown(attempts: int) -> int:
    """Seconds before the next try: doubling from RETRY_BACKOFF, at most RETRY_BACKOFF_MAX."""
    return min(RETRY_BACKOFF * 2 ** (attempts - 1), RETRY_BACKOFF_MAX)


def should_retry(attempts: int, transient: bool) -> bool:
    return transient and attempts < MAX_ATTEMPTS


def publish(task, pk: int, countdown: int = 0) -> None:
    """Queue `task(pk)`; with the broker away, log it: the sweep sends the row when it is due."""
    try:
        task.apply_async((pk,), countdown=countdown, retry_policy=PUBLISH_RETRY_POLICY)
    except Exception:
        logger.error("%s %s: not queued; the sweep will", task.name, pk)


def requeue(rows: QuerySet, task) -> int:
    """Queue `task` again for every row of `rows` (those still worth sending) whose delivery is
    overdue: queued for longer than REQUEUE_AFTER, or sending past the lease."""
    now = timezone.now()
    overdue = Q(delivery_state=QUEUED, delivery_due_at__lt=now - REQUEUE_AFTER) | Q(
        delivery_state=SENDING, delivery_due_at__lt=now - SENDING_LEASE
    )
    with transaction.atomic():
        ids = list(
            rows.select_for_update(skip_locked=True)
            .filter(overdue)
            .values_list("pk", flat=True)[:SWEEP_BATCH]
        )
        # Restart the clock on queued rows, so a slow worker does not get a duplicate message
        # every minute (a duplicate would be harmless: the claim lets one through).
        rows.model.objects.filter(pk__in=ids, delivery_state=QUEUED).update(delivery_due_at=now)
    for pk in ids:
        task.apply_async((pk,), retry_policy=PUBLISH_RETRY_POLICY)
    if ids:
        logger.info("re-queued %s deliveries of %s", len(ids), task.name)
    return len(ids)
