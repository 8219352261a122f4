"""What Django's debug error page may show (DEBUG on only)."""

from __future__ import annotations

import re

from django.views.debug import SafeExceptionReporterFilter


class SettingsFilter(SafeExceptionReporterFilter):
    """Django's filter, also hiding settings named *_URL (DATABASE_URL, REDIS_URL, EMAIL_URL,
    SMS_URL...): they carry passwords and tokens in their user-info part."""

    hidden_settings = re.compile(
        "API|TOKEN|KEY|SECRET|PASS|SIGNATURE|HTTP_COOKIE|_URL$", flags=re.IGNORECASE
    )
