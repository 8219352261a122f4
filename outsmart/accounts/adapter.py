"""django-allauth glue: closed signup, audit of logins, email through the worker."""

from __future__ import annotations

from allauth.account.adapter import DefaultAccountAdapter
from allauth.core import context as allauth_context
from django.conf import settings
from django.contrib.sites.shortcuts import get_current_site
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
        message_queue(self.render_mail(template_prefix, email, ctx))

    def login(self, request, user) -> None:
        super().login(request, user)
        audit_record(action="auth.login", actor=user, target=user, request=request)

    def logout(self, request) -> None:
        user = request.user if request.user.is_authenticated else None
        if user is not None:
            audit_record(action="auth.logout", actor=user, target=user, request=request)
        super().logout(request)

    def authentication_failed(self, request, **credentials) -> None:
        from outsmart.accounts.models import User

        email = str(credentials.get("email") or credentials.get("username") or "")[:254]
        known = User.objects.filter(email__iexact=email.strip()).first() if email else None
        audit_record(
            action="auth.login_failed",
            actor=None,
            target=known,
            request=request,
            detail={"known_account": known is not None},
        )
