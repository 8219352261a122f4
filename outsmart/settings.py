"""OutSmart settings: one module, everything from the environment (DESIGN.md, operator contract).

`make run` needs no variable at all: DEBUG on, a SQLite file, tasks in-process and a development
outbox. Production sets DEBUG off, and then SECRET_KEY and ACCESS_CODE_SECRET are required.
"""

from __future__ import annotations

from pathlib import Path

from csp.constants import NONCE, NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from outsmart.env import (
    database_config,
    email_config,
    env_bool,
    env_list,
    env_str,
    redis_url,
    sms_config,
)

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("OUTSMART_VAR_DIR") or BASE_DIR / "var")

DEBUG = env_bool("DEBUG", False)


def _secret(name: str, dev_default: str) -> str:
    value = env_str(name)
    if value:
        if not DEBUG and len(value) < 50:
            raise ImproperlyConfigured(f"{name} must be at least 50 characters long.")
        return value
    if DEBUG:
        return dev_default
    raise ImproperlyConfigured(f"{name} must be set when DEBUG is off.")


SECRET_KEY = _secret(
    "SECRET_KEY", "dev-only-insecure-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz"
)
# Keys the HMAC of access codes and link tokens; kept out of the database on purpose.
ACCESS_CODE_SECRET = _secret(
    "ACCESS_CODE_SECRET", "dev-only-insecure-access-code-secret-0123456789-abcdefghijklmnop"
)

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
# How many reverse proxies in front of us append to X-Forwarded-For (0: use REMOTE_ADDR).
NUM_PROXIES = int(env_str("NUM_PROXIES") or 0)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "csp",
    "allauth",
    "allauth.account",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "outsmart.accounts",
    "outsmart.audit",
    "outsmart.emails",
    "outsmart.devtools",
    "offices",
    "invitations",
    "records",
    "accesscodes",
    "portal",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_permissions_policy.PermissionsPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "outsmart.middleware.RequestIdMiddleware",
    "outsmart.middleware.PrivatePagesMiddleware",
    "outsmart.middleware.RequestCharsetMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "outsmart.accounts.middleware.TwoFactorMiddleware",
    "offices.middleware.ClinicIdleTimeoutMiddleware",
]

ROOT_URLCONF = "outsmart.urls"
WSGI_APPLICATION = "outsmart.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "csp.context_processors.nonce",
                "outsmart.context_processors.site",
                "offices.context_processors.clinic",
                "invitations.context_processors.pending",
            ],
        },
    },
]

DATABASES = {
    "default": database_config("DATABASE_URL", f"sqlite:///{VAR_DIR / 'outsmart.sqlite3'}")
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = redis_url("REDIS_URL")
if REDIS_URL:
    CACHES = {
        "default": {
            # Answers as an empty cache while Redis is away (sessions come from the database);
            # rate limits that guard a secret fail closed (outsmart.cache, outsmart.ratelimit).
            "BACKEND": "outsmart.cache.DegradingRedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "outsmart",
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- accounts -----------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "home"
PASSWORD_RESET_TIMEOUT = 24 * 60 * 60  # reset links last at most a day

ACCOUNT_ADAPTER = "outsmart.accounts.adapter.AccountAdapter"
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_EMAIL_VERIFICATION = "optional"
ACCOUNT_LOGIN_ON_PASSWORD_RESET = False
ACCOUNT_LOGOUT_ON_GET = False
ACCOUNT_SESSION_REMEMBER = False
ACCOUNT_PREVENT_ENUMERATION = True
ACCOUNT_EMAIL_NOTIFICATIONS = True
ACCOUNT_EMAIL_SUBJECT_PREFIX = "OutSmart: "
ACCOUNT_DEFAULT_HTTP_PROTOCOL = "http" if DEBUG else "https"
ACCOUNT_RATE_LIMITS = {
    "login": "30/m/ip",
    "login_failed": "10/m/ip,5/5m/key",
    "reset_password": "20/m/ip,5/m/key",
    "reset_password_from_key": "20/m/ip",
    "change_password": "5/m/user",
    "confirm_email": "1/3m/key",
    "signup": "20/m/ip",
}
# Extension point for closed signup: dotted paths of `callable(request) -> bool`. The invitation
# and portal apps add theirs; with none, nobody can sign up, which is the safe default.
OUTSMART_SIGNUP_GATES: list[str] = []

# Where "request a review" of an invitation goes (support's queue is in the Django admin).
SUPPORT_EMAIL = env_str("SUPPORT_EMAIL") or "support@outsmart.localhost"

OTP_TOTP_ISSUER = "OutSmart"
OTP_TOTP_THROTTLE_FACTOR = 1
# Support may delete a lost authenticator in the admin, never read its secret (key, QR code).
OTP_ADMIN_HIDE_SENSITIVE_DATA = True
# Failed second factors per user before the verify page answers 429 for a while.
TWO_FACTOR_FAILURE_LIMIT = (10, 15 * 60)

# Clinic users are logged out after this long without a request (DESIGN.md, sessions).
CLINIC_IDLE_TIMEOUT = 30 * 60

SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
SESSION_COOKIE_AGE = 12 * 60 * 60
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
CSRF_FAILURE_VIEW = "outsmart.views.csrf_failure"

# --- security headers (DEBUG off is production) ---------------------------------------------
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SECURE_HSTS_SECONDS = 0 if DEBUG else 365 * 24 * 60 * 60
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Addresses that carry a secret: their responses say `Referrer-Policy: no-referrer` and are
# never cached (outsmart.middleware.PrivatePagesMiddleware); the log redactions below hide them.
SECRET_PATHS = [
    r"^/a/",  # access links
    r"^/invitations/",  # invitation links
    r"^/accounts/password/reset/key/",
]
# No inline script or style anywhere: scripts and stylesheets come from /static/, and a nonce
# (`{{ request.csp_nonce }}`) is the only way to add an inline one. Forms post only to us.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF, NONCE],
        "img-src": [SELF],
        "font-src": [SELF],
        "connect-src": [SELF],
        "form-action": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "frame-ancestors": [NONE],
    }
}
# The portal and the clinic need no camera, microphone, location, payment or sensor.
PERMISSIONS_POLICY: dict[str, list[str]] = {
    feature: []
    for feature in (
        "accelerometer",
        "autoplay",
        "camera",
        "display-capture",
        "encrypted-media",
        "fullscreen",
        "geolocation",
        "gyroscope",
        "magnetometer",
        "microphone",
        "midi",
        "payment",
        "publickey-credentials-get",
        "screen-wake-lock",
        "usb",
        "xr-spatial-tracking",
    )
}

# --- static files -----------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": VAR_DIR / "private", "base_url": None},
    },
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- email ------------------------------------------------------------------------------------
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL") or "OutSmart <no-reply@outsmart.localhost>"
SERVER_EMAIL = DEFAULT_FROM_EMAIL
_email = email_config("EMAIL_URL")
if _email is None:
    # No EMAIL_URL: keep every message as a file; with DEBUG on it is readable at /dev/outbox/.
    EMAIL_BACKEND = "outsmart.devtools.mail.OutboxEmailBackend"
    OUTBOX_DIR = VAR_DIR / "outbox"
else:
    EMAIL_BACKEND = _email.backend
    EMAIL_HOST = _email.host
    EMAIL_PORT = _email.port
    EMAIL_HOST_USER = _email.user
    EMAIL_HOST_PASSWORD = _email.password
    EMAIL_USE_TLS = _email.use_tls
    EMAIL_USE_SSL = _email.use_ssl
    EMAIL_TIMEOUT = _email.timeout
    OUTBOX_DIR = VAR_DIR / "outbox"

# --- SMS --------------------------------------------------------------------------------------
_sms = sms_config("SMS_URL")
if _sms is None:
    # No SMS_URL: `make run` prints messages to the console; elsewhere (the tests) they are kept
    # in outsmart.sms.outbox.
    SMS_BACKEND = "outsmart.sms.ConsoleBackend" if DEBUG else "outsmart.sms.LocmemBackend"
    SMS_URL = ""
    SMS_TIMEOUT = 10
else:
    SMS_BACKEND = _sms.backend
    SMS_URL = _sms.url  # the provider's endpoint, with its credentials; "" for console/locmem
    SMS_TIMEOUT = _sms.timeout
# SMS_URL and the other *_URL settings carry credentials: the debug error page must hide them.
DEFAULT_EXCEPTION_REPORTER_FILTER = "outsmart.debug.SettingsFilter"

# --- Celery -----------------------------------------------------------------------------------
CELERY_BROKER_URL = REDIS_URL or "memory://"
# Without REDIS_URL (the `make run` default) tasks run in-process, still only after commit.
CELERY_TASK_ALWAYS_EAGER = REDIS_URL is None
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_DEFAULT_QUEUE = "outsmart"
# Longer than the longest retry countdown (see outsmart.mail.RETRY_BACKOFF_MAX), so a task
# waiting for its retry is not delivered to a second worker.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 2 * 60 * 60}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BEAT_SCHEDULE: dict = {
    "clear-expired-sessions": {
        "task": "outsmart.accounts.tasks.clear_expired_sessions",
        "schedule": 60 * 60,
    },
    "emails-requeue": {"task": "emails.requeue", "schedule": 60},
    "emails-purge": {"task": "emails.purge", "schedule": 24 * 60 * 60},
    "invitations-requeue": {"task": "invitations.requeue", "schedule": 60},
    "invitations-expire": {"task": "invitations.expire", "schedule": 10 * 60},
    "accesscodes-requeue": {"task": "accesscodes.requeue", "schedule": 60},
    "accesscodes-expire": {"task": "accesscodes.expire", "schedule": 10 * 60},
    "accesscodes-remind": {"task": "accesscodes.remind", "schedule": 60 * 60},
}

# --- logging ----------------------------------------------------------------------------------
# Patterns whose matches never reach a log line (tokens in paths, secrets in query strings).
# A path's secret segment is scrubbed whatever it holds (a pasted link with junk in front of
# the token must not slip through); only the request log's route placeholder is kept.
LOG_REDACTIONS = [
    r"(?i)((?:token|code|key|password|otp|secret)\w*=)[^&\s'\"]+",
    r"(/password/reset/key/)[^/'\"\r\n]+",
    r"(/confirm-email/)[^/'\"\r\n]+",  # email verification keys
    r"(/invitations/)(?!\d+/|<str:token>/)[^/'\"\r\n]+",
    r"(/a/)(?!<str:token>/)[^/'\"\r\n]+",  # access links
]
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request_id": {"()": "outsmart.logging.RequestIdFilter"},
        "redact": {"()": "outsmart.logging.RedactFilter"},
    },
    "formatters": {
        "plain": {
            "format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s",
        },
    },
    "handlers": {
        "stdout": {
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stdout",
            "formatter": "plain",
            "filters": ["request_id", "redact"],
        },
    },
    "root": {"handlers": ["stdout"], "level": "WARNING"},
    "loggers": {
        "django": {"handlers": ["stdout"], "level": "INFO", "propagate": False},
        "django.server": {"handlers": ["stdout"], "level": "INFO", "propagate": False},
        "outsmart": {"handlers": ["stdout"], "level": "INFO", "propagate": False},
        "celery": {"handlers": ["stdout"], "level": "INFO", "propagate": False},
        # Pinned, whatever level "django" is turned to: its DEBUG lines (a variable missing in a
        # template) print the whole template context, with the CSRF token and, in an email,
        # the password-reset or verification link.
        "django.template": {"level": "INFO"},
    },
}

# Absolute address used in emails, SMS and printed slips.
SITE_URL = (env_str("SITE_URL") or "http://127.0.0.1:8000").rstrip("/")

# auth.W004 asks for `unique=True` on the login field; uniqueness here is the stronger
# case-insensitive constraint `user_email_ci_unique` (Lower(email)), which the check cannot see.
SILENCED_SYSTEM_CHECKS = ["auth.W004"]
