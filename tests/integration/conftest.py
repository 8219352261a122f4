import pytest


@pytest.fixture
def fast_retries(monkeypatch):
    """Retry after 0.2 s, 0.4 s, 0.5 s... instead of 30 s, 60 s, 120 s..."""
    monkeypatch.setattr("outsmart.delivery.RETRY_BACKOFF", 0.2)
    monkeypatch.setattr("outsmart.delivery.RETRY_BACKOFF_MAX", 0.5)
