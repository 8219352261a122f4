from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.db.models.functions import Lower, Upper
from django.utils import timezone
from django_otp.models import Device


class UserManager(BaseUserManager):
    use_in_migrations = True

    def get_by_natural_key(self, email):
        return self.get(email__iexact=email)

    def _create(self, email, password, **extra):
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email).strip().lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email, password=None, **extra):
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create(email, password, **extra)

    def create_superuser(self, email, password=None, **extra):
        extra.update(is_staff=True, is_superuser=True)
        return self._create(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    """Everybody: clinic people, patients and support operators.

    The role comes from what the person holds (memberships, portal grants, `is_staff`), not from
    a field here. Email is the login, unique whatever its case (a database constraint).
    """

    email = models.EmailField(max_length=254)
    first_name = models.CharField(max_length=150, blank=True)
    last_name = models.CharField(max_length=150, blank=True)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(
        default=False, help_text="Support operator: may use the Django admin (with two-factor)."
    )
    date_joined = models.DateTimeField(default=timezone.now)
    # Raised to end every session of this person on the server at once (removal from an
    # office): it is part of the session hash Django checks on each request.
    session_generation = models.PositiveIntegerField(default=0, editable=False)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        constraints = [
            models.UniqueConstraint(Lower("email"), name="user_email_ci_unique"),
        ]
        # Every lookup by address (login, "is this email in use", invitations) is Django's
        # `email__iexact`, i.e. UPPER(email) = UPPER(%s): without this index each one read the
        # whole table (bench: 2 ms per lookup at 5,700 accounts, growing with every account).
        indexes = [models.Index(Upper("email"), name="user_email_upper")]

    def __str__(self) -> str:
        return self.get_full_name() or self.email

    def clean(self):
        super().clean()
        self.email = self.__class__.objects.normalize_email(self.email).strip().lower()

    def get_full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    def get_short_name(self) -> str:
        return self.first_name or self.email

    # Django ends a session whose stored hash no longer matches this one (and flushes it from
    # the store). The password is in it (a password change ends the other sessions), and so is
    # session_generation; generation 0 keeps Django's own hash, so no session ends on upgrade.
    def get_session_auth_hash(self) -> str:
        return self._session_hash(None)

    def get_session_auth_fallback_hash(self):
        from django.conf import settings

        for secret in settings.SECRET_KEY_FALLBACKS:
            yield self._session_hash(secret)

    def _session_hash(self, secret) -> str:
        if not self.session_generation:
            return self._get_session_auth_hash(secret=secret)
        from django.utils.crypto import salted_hmac

        return salted_hmac(
            "outsmart.accounts.User.get_session_auth_hash",
            f"{self.password}|{self.session_generation}",
            secret=secret,
            algorithm="sha256",
        ).hexdigest()

    def sessions_end(self) -> None:
        """End every session of this person, on every device, from their next request on."""
        type(self).objects.filter(pk=self.pk).update(
            session_generation=models.F("session_generation") + 1
        )


class BackupCodeDevice(Device):
    """A django-otp device whose tokens are single-use backup codes.

    django-otp's own StaticDevice keeps its tokens in plain text; here only a keyed hash of
    each code is stored, and a code is used up by one conditional UPDATE, so two simultaneous
    requests with the same code cannot both pass.
    """

    def verify_token(self, token) -> bool:
        from outsmart.accounts.backup_codes import backup_code_digest, normalise_backup_code

        code = normalise_backup_code(str(token))
        if code is None:
            return False
        used = BackupCode.objects.filter(
            device=self, digest=backup_code_digest(code), used_at__isnull=True
        ).update(used_at=timezone.now())
        return used == 1


class BackupCode(models.Model):
    device = models.ForeignKey(BackupCodeDevice, on_delete=models.CASCADE, related_name="codes")
    digest = models.CharField(max_length=64)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["device", "digest"], name="backup_code_unique")
        ]

    def __str__(self) -> str:
        return f"backup code #{self.pk} ({'used' if self.used_at else 'unused'})"
