"""The portal's one access rule: what this request may see, checked on every request.

Two ways in:
- an account holding PortalAccess grants (medical records of a patient, or one Smart Form);
- a browser session that opened a Smart Form access link (or typed its backup code) without an
  account: it reaches that one FormRequest, and only while the code is still usable.
Nothing is cached between requests: a revoked grant or a cancelled code stops access at once.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from django.contrib.auth.views import redirect_to_login
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_cache_control

from accesscodes.models import AccessCode
from portal.models import PortalAccess
from records.models import FormRequest

# Session keys. Values are ids only: codes and tokens never go into the session store.
FORM_CODES_KEY = "portal_form_codes"  # [AccessCode id] of Smart Form links opened here
LINK_CODE_KEY = "portal_link_code"  # {"id": AccessCode id, "at": epoch} of a records link
LINK_CODE_TTL = 60 * 60  # seconds a records link opened here stays ready for register/log in


def no_store(response: HttpResponse) -> HttpResponse:
    patch_cache_control(response, no_store=True, private=True)
    return response


def portal_view(view: Callable) -> Callable:
    """A portal page for a logged-in person: login first (back to the portal's login page),
    and never cached (every portal page shows patient data or could)."""

    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path(), reverse("portal:login"))
        return no_store(view(request, *args, **kwargs))

    wrapped.portal_view = True
    return wrapped


def portal_page(view: Callable) -> Callable:
    """A portal page anyone may open (login, Register Here, a link's landing): no cache."""

    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        return no_store(view(request, *args, **kwargs))

    return wrapped


def records_grants(user):
    """The user's active medical-records grants."""
    return PortalAccess.objects.active().filter(user=user, kind=PortalAccess.Kind.MEDICAL_RECORDS)


def patient_ids_for(user) -> list[int]:
    if not getattr(user, "is_authenticated", False):
        return []
    return list(records_grants(user).values_list("patient_id", flat=True))


def session_form_code_ids(request: HttpRequest) -> list[int]:
    ids = request.session.get(FORM_CODES_KEY, [])
    return [i for i in ids if isinstance(i, int)] if isinstance(ids, list) else []


def session_form_code_add(request: HttpRequest, access_code: AccessCode) -> None:
    ids = session_form_code_ids(request)
    if access_code.pk not in ids:
        request.session[FORM_CODES_KEY] = [*ids[-19:], access_code.pk]
    request.session.cycle_key()


def _account_forms(user) -> Q:
    """FormRequests the account reaches by its own grants: its records grants' patients' forms,
    and the forms it holds a Smart Form grant on."""
    if not getattr(user, "is_authenticated", False):
        return Q(pk__in=[])
    return Q(patient__portal_accesses__in=records_grants(user)) | Q(
        portal_accesses__in=PortalAccess.objects.active().filter(
            user=user, kind=PortalAccess.Kind.SMART_FORM
        )
    )


def account_reaches_form(user, form_request: FormRequest) -> bool:
    """Whether the account itself (not only this browser session's link) reaches the form."""
    return FormRequest.objects.filter(_account_forms(user), pk=form_request.pk).exists()


def form_request_reachable(request: HttpRequest, form_request_id) -> FormRequest:
    """The FormRequest this request may open, or 404: the account's medical-records grant on
    its patient, the account's grant on that form, or a usable Smart Form code opened in this
    browser session."""
    try:
        form_request_id = int(form_request_id)
    except (TypeError, ValueError):
        raise Http404 from None
    allowed = _account_forms(request.user)
    code_ids = session_form_code_ids(request)
    if code_ids:
        allowed |= Q(
            access_codes__in=AccessCode.objects.filter(
                pk__in=code_ids,
                kind=AccessCode.Kind.SMART_FORM,
                status=AccessCode.Status.ACTIVE,
                expires_at__gt=timezone.now(),
            )
        )
    form_request = (
        FormRequest.objects.select_related("office", "patient")
        .filter(allowed, pk=form_request_id)
        .distinct()
        .first()
    )
    if form_request is None:
        raise Http404
    return form_request
