"""Who must use two-factor authentication."""

from __future__ import annotations

from django_otp.plugins.otp_totp.models import TOTPDevice


def two_factor_required(user) -> bool:
    """Support staff always; clinic members of any office whose policy requires it (the
    default for every real office)."""
    if user.is_staff or user.is_superuser:
        return True
    from offices.selectors import user_offices_requiring_two_factor

    return user_offices_requiring_two_factor(user).exists()


def has_authenticator(user) -> bool:
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()
