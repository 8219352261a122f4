"""django-allauth glue: closed signup, audit of logins, email through the worker."""

from __future__ import annotations

from allauth.account.adapter import DefaultAccountAdapter
from allauth.core import context as allauth_context
from django.conf import settings
from django.contrib.sites.shortcuts import get_current_site
from django.core.exceptions import ValidationError
from django.utils.module_loading import import_string

from outsmart.audit.services import audit_record
from outsmart.mail import message_queue


def signup_gates():
    return [import_string(path) for path in settings.OUTSMART_SIGNUP_GATES]


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request) -> bool:
        # Accounts are made only from an invitation or an access code: each app that can
        # open signup registers a gate that checks its own proof in the session.
        return any(gate(request) for gate in signup_gates())

    def send_mail(self, template_prefix, email, context) -> None:
        # As allauth's own send_mail, but the message is sent by a worker after commit.
        request = allauth_context.request
        ctx = {"request": request, "email": email, "current_site": get_current_site(request)}
        ctx.update(context)
        message_queue(
            self.render_mail(template_prefix, email, ctx), name=template_prefix.rsplit("/", 1)[-1]
        )

    def login(self, request, user) -> None:
        super().login(request, user)
        audit_record(action="auth.login", actor=user, target=user, request=request)

    def logout(self, request) -> None:
        user = request.user if request.user.is_authenticated else None
        if user is not None:
            audit_record(action="auth.logout", actor=user, target=user, request=request)
        super().logout(request)

    def authentication_failed(self, request, **credentials) -> None:
        known = _account_of(credentials)
        audit_record(
            action="auth.login_failed",
            actor=None,
            target=known,
            request=request,
            detail={"known_account": known is not None},
        )

    def pre_authenticate(self, request, **credentials) -> None:
        # Over allauth's failed-login limit the password is not even checked: audited too, as
        # two-factor and access-code throttling are.
        try:
            super().pre_authenticate(request, **credentials)
        except ValidationError:
            known = _account_of(credentials)
            audit_record(
                action="auth.login_throttled",
                actor=None,
                target=known,
                request=request,
                detail={"known_account": known is not None},
            )
            raise

    def clean_email(self, email: str) -> str:
        # Every address allauth's forms take (sign up, add an address, password reset): no
        # control or invisible characters, which Django's email check lets through.
        from outsmart.text import validate_email_characters

        validate_email_characters(email)
        return super().clean_email(email)

    def set_password(self, user, password) -> None:
        """Every password allauth sets (change, reset from an emailed link) is audited. A reset
        key allauth kept in the session (off the address bar, between the link and the form) is
        spent now: it is not kept in the session store any longer."""
        super().set_password(user, password)
        from allauth.account.views import INTERNAL_RESET_SESSION_KEY

        request = allauth_context.request
        session = getattr(request, "session", None)
        reset = session is not None and session.pop(INTERNAL_RESET_SESSION_KEY, None) is not None
        audit_record(
            action="auth.password_changed",
            actor=user,
            target=user,
            request=request,
            detail={"via": "reset" if reset else "change"},
        )


def _account_of(credentials: dict):
    from outsmart.accounts.models import User

    email = str(credentials.get("email") or credentials.get("username") or "")[:254]
    return User.objects.filter(email__iexact=email.strip()).first() if email else None
