"""Every URL of the product outside the clinic namespaces x every persona, with object ids of
the persona's own patient, another patient of the same office, another office and none.

tests/offices/test_permission_matrix.py holds the clinic namespaces; the Django admin is
enumerated per registered model below; the development outbox is checked to be absent. A URL
pattern in none of them fails `test_every_url_pattern_has_a_row`.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from tests.security.matrix_world import PERSONAS, build_world, missing_id, normalized, snapshot

pytestmark = pytest.mark.django_db


# --- the URL resolver -------------------------------------------------------------------------
def all_patterns(resolver=None, namespace: str = "", prefix: str = ""):
    """(key, route, pattern) for every URL pattern: "namespace:name", or "namespace:route" for
    a pattern without a name."""
    resolver = resolver or get_resolver()
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            inner = (
                f"{namespace}:{entry.namespace}"
                if namespace and entry.namespace
                else (entry.namespace or namespace)
            )
            yield from all_patterns(entry, inner, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            route = prefix + str(entry.pattern)
            name = entry.name or route
            yield (f"{namespace}:{name}" if namespace else name), route, entry


# --- targets: what a URL's id or token points at ----------------------------------------------
@dataclass(frozen=True)
class Target:
    kwargs: dict
    before: tuple[str, ...] = ()  # addresses the same browser opened first (a link, say)


def _ids(attr: str, param: str):
    """Targets for an id of `world.<attr>`: Olivia's (the patient persona's), Noah's (another
    patient of the same office, the other patient persona's), Hana's (another office) and
    an id nobody has."""

    def make(world):
        rows = getattr(world, attr)
        targets = {key: Target({param: rows[key].pk}) for key in ("olivia", "noah", "hana")}
        targets["missing"] = Target({param: missing_id()})
        return targets

    return make


def _invitation_ids(world):
    return {
        "to_outsider": Target({"invitation_id": world.invitations["to_outsider"].pk}),
        "hilltop": Target({"invitation_id": world.invitations["hilltop"].pk}),
        "missing": Target({"invitation_id": missing_id()}),
    }


def _invitation_tokens(world):
    return {key: Target({"token": token}) for key, token in world.invitation_tokens.items()}


def _opened_invitation(world):
    """Pages that follow an invitation link: nothing opened in this browser, or the link of
    an invitation to an address with an account / without one."""
    return {
        "nothing_opened": Target({}),
        "account_exists": Target(
            {}, (reverse("invitee:landing", args=[world.invitation_tokens["account_exists"]]),)
        ),
        "no_account": Target(
            {}, (reverse("invitee:landing", args=[world.invitation_tokens["no_account"]]),)
        ),
    }


def _link_tokens(world):
    return {key: Target({"token": token}) for key, token in world.link_tokens.items()}


def _opened_records_link(world):
    return {
        "nothing_opened": Target({}),
        "records_link": Target({}, (reverse("access_link", args=[world.link_tokens["records"]]),)),
    }


TARGETS = {
    "invitee:landing": _invitation_tokens,
    "invitee:invitations/<str:token>/register/": _invitation_tokens,
    "invitee:invitations/<str:token>/review/": _invitation_tokens,
    "invitee:open": _opened_invitation,
    "invitee:open_register": _opened_invitation,
    "invitee:open_review": _opened_invitation,
    "invitee:detail": _invitation_ids,
    "invitee:approve": _invitation_ids,
    "invitee:decline": _invitation_ids,
    "account_confirm_email": lambda world: {"bogus": Target({"key": "MQ:1vAbCd:bogus-key"})},
    "account_reset_password_from_key": lambda world: {
        "bogus": Target({"uidb36": "1", "key": "set-password-bogus"})
    },
    "portal:link_continue": _opened_records_link,
    "portal:document": _ids("documents", "document_id"),
    "portal:form": _ids("form_requests", "form_request_id"),
    "portal:form_review": _ids("form_requests", "form_request_id"),
    "portal:form_submit": _ids("form_requests", "form_request_id"),
    "portal:access_remove": _ids("grants", "grant_id"),
    "portal:access_not_me": _ids("grants", "grant_id"),
    "access_link": _link_tokens,
}


def targets_of(key: str, world) -> dict[str, Target]:
    return TARGETS[key](world) if key in TARGETS else {"-": Target({})}


def url_of(key: str, target: Target) -> str:
    if ":" in key and "/" in key:  # a pattern without a name: its route, filled in
        route = key.split(":", 1)[1]
        for name, value in target.kwargs.items():
            route = route.replace(f"<str:{name}>", str(value)).replace(f"<int:{name}>", str(value))
        return "/" + route
    return reverse(key, kwargs=target.kwargs)


def observed(response) -> int | str:
    """The status, and for a redirect where it leads (its path, without the query)."""
    if 300 <= response.status_code < 400:
        return f"{response.status_code} {urlsplit(response['Location']).path}"
    return response.status_code


# --- expected: status (and where a redirect leads) per persona ---------------------------------
LOGIN = "302 /accounts/login/"
PORTAL_LOGIN = "302 /portal/"
ADMIN_LOGIN = "302 /admin/login/"
# Not logged in: anonymous, and the browser that only opened a Smart Form link.
NO_ACCOUNT = ("link_visitor", "anonymous")


def expect(default, **cells) -> list:
    """A row: `default` for every persona but those named."""
    unknown = set(cells) - set(PERSONAS)
    assert not unknown, f"no such persona: {unknown}"
    return [cells.get(persona, default) for persona in PERSONAS]


def logged_in(status, *, otherwise=LOGIN, **cells) -> list:
    """`status` for everyone with an account, `otherwise` for those without."""
    return expect(status, **dict.fromkeys(NO_ACCOUNT, otherwise), **cells)


def every(status) -> list:
    return expect(status)


def own(owner: str, status, *, denied=404, otherwise=PORTAL_LOGIN) -> list:
    """An object only `owner` reaches: 404 for every other account (as if it did not exist)."""
    return logged_in(denied, otherwise=otherwise, **{owner: status})


def nobody(*, denied=404, otherwise=PORTAL_LOGIN) -> list:
    return logged_in(denied, otherwise=otherwise)


PORTAL_IDS = ("olivia", "noah", "hana", "missing")


def portal_rows(owner_status, *, otherwise=PORTAL_LOGIN) -> dict:
    """Olivia's object is the patient persona's, Noah's the other patient persona's; Hana's
    (another office) and a missing id are nobody's."""
    return {
        "olivia": own("patient", owner_status, otherwise=otherwise),
        "noah": own("other_patient", owner_status, otherwise=otherwise),
        "hana": nobody(otherwise=otherwise),
        "missing": nobody(otherwise=otherwise),
    }


INVITATION_LINK = {
    "account_exists": every("302 /invitation/"),
    "no_account": every("302 /invitation/"),
    "unknown": every(404),
    "malformed": every(404),
}

EXPECTED = {
    "home": expect(
        "302 /office/",
        removed_member="302 /accounts/",
        patient="302 /portal/dashboard/",
        other_patient="302 /portal/dashboard/",
        revoked_patient="302 /portal/dashboard/",
        support="302 /accounts/",
        link_visitor=LOGIN,
        anonymous=LOGIN,
    ),
    "healthz": every(200),  # "ok", for a load balancer: nothing about anyone
    # Invitation links: whoever holds the token sees the invitation (that is what a link is);
    # the token's address only redirects to the token-free page.
    "invitee:landing": INVITATION_LINK,
    "invitee:invitations/<str:token>/register/": {
        **INVITATION_LINK,
        "account_exists": every("302 /invitation/register/"),
        "no_account": every("302 /invitation/register/"),
    },
    "invitee:invitations/<str:token>/review/": {
        **INVITATION_LINK,
        "account_exists": every("302 /invitation/review/"),
        "no_account": every("302 /invitation/review/"),
    },
    "invitee:open": {
        "nothing_opened": every(410),
        "account_exists": every(200),
        "no_account": every(200),
    },
    "invitee:open_register": {
        "nothing_opened": every(410),
        # An address with an account, or someone logged in: no registration form.
        "account_exists": every("302 /invitation/"),
        "no_account": expect("302 /invitation/", link_visitor=200, anonymous=200),
    },
    "invitee:open_review": {
        "nothing_opened": every(410),
        "account_exists": every(200),
        "no_account": every("302 /invitation/"),
    },
    # The Approve page: only the person the invitation is addressed to.
    "invitee:list": logged_in(200),
    "invitee:detail": {
        "to_outsider": own("outsider", 200, otherwise=LOGIN),
        "hilltop": nobody(otherwise=LOGIN),
        "missing": nobody(otherwise=LOGIN),
    },
    # POST only (test_post_matrix sends the POSTs).
    "invitee:approve": {t: logged_in(405) for t in ("to_outsider", "hilltop", "missing")},
    "invitee:decline": {t: logged_in(405) for t in ("to_outsider", "hilltop", "missing")},
    # Accounts: each person's own account only, nothing of anyone else's.
    "accounts:overview": logged_in(200),
    "accounts:two_factor_setup": logged_in(
        "302 /accounts/", patient=200, other_patient=200, revoked_patient=200
    ),
    "accounts:two_factor_verify": logged_in("302 /"),
    "accounts:backup_codes_regenerate": logged_in(405),
    "accounts:two_factor_disable": logged_in(405),
    "account_login": expect("302 /", link_visitor=200, anonymous=200),
    "account_logout": expect(200, link_visitor="302 /", anonymous="302 /"),
    "account_inactive": every(200),
    "account_signup": expect("302 /", link_visitor=200, anonymous=200),
    "account_reauthenticate": logged_in(200),
    "account_email": logged_in(200),
    "account_email_verification_sent": every(200),
    "account_change_password": logged_in(200),
    "account_set_password": logged_in("302 /accounts/password/change/"),
    "account_reset_password": every(200),
    "account_confirm_login_code": logged_in("302 /"),
    "account_confirm_email": {"bogus": every(200)},
    "account_reset_password_from_key_done": every(200),
    "account_reset_password_from_key": {"bogus": every(200)},
    "account_reset_password_done": every(200),
    # The patient portal.
    "portal:login": expect("302 /portal/dashboard/", link_visitor=200, anonymous=200),
    "portal:register": expect("302 /portal/access-code/", link_visitor=200, anonymous=200),
    "portal:access_code": logged_in(200, otherwise=PORTAL_LOGIN),
    "portal:link_continue": {
        "nothing_opened": every(410),
        "records_link": every(200),  # what the link unlocks, shown to whoever holds it
    },
    "portal:dashboard": logged_in(200, otherwise=PORTAL_LOGIN),
    "portal:my_access": logged_in(200, otherwise=PORTAL_LOGIN),
    "portal:document": portal_rows(200),
    "portal:access_remove": portal_rows(200),
    "portal:access_not_me": portal_rows(200),
    # Smart Forms open without an account through their link: not found for everyone else.
    "portal:form": {
        "olivia": expect(404, patient=200, link_visitor=200),
        "noah": expect(404, other_patient=200),
        "hana": every(404),
        "missing": every(404),
    },
    "portal:form_review": {  # a GET goes back to the questions
        "olivia": expect(
            404,
            patient="302 /portal/forms/{olivia_form}/",
            link_visitor="302 /portal/forms/{olivia_form}/",
        ),
        "noah": expect(404, other_patient="302 /portal/forms/{noah_form}/"),
        "hana": every(404),
        "missing": every(404),
    },
    "portal:form_submit": {t: every(405) for t in PORTAL_IDS},
    "access_link": {
        "form": every("302 /portal/forms/{olivia_form}/"),
        "records": every("302 /portal/link/"),
        "unknown": every(404),
        "malformed": every(404),
    },
    # The admin's login: allauth's for those not logged in; a 403 for a logged-in person the
    # admin does not let in (a redirect to the login page would loop back to the admin).
    "admin_login_redirect": logged_in(403, support="302 /admin/"),
}

# POSTs to the URLs that take an object id: refused (nothing changed) for all but the owner.
POST_EXPECTED = {
    "invitee:approve": {
        "to_outsider": own("outsider", "302 /", otherwise=LOGIN),
        "hilltop": nobody(otherwise=LOGIN),
        "missing": nobody(otherwise=LOGIN),
    },
    "invitee:decline": {
        "to_outsider": own("outsider", "302 /accounts/invitations/", otherwise=LOGIN),
        "hilltop": nobody(otherwise=LOGIN),
        "missing": nobody(otherwise=LOGIN),
    },
    # Empty answers: the owner gets the questions back (400, nothing stored), others 404.
    "portal:form": {
        "olivia": expect(404, patient=200, link_visitor=200),
        "noah": expect(404, other_patient=200),
        "hana": every(404),
        "missing": every(404),
    },
    "portal:form_review": {
        "olivia": expect(404, patient=400, link_visitor=400),
        "noah": expect(404, other_patient=400),
        "hana": every(404),
        "missing": every(404),
    },
    "portal:form_submit": {
        "olivia": expect(404, patient=400, link_visitor=400),
        "noah": expect(404, other_patient=400),
        "hana": every(404),
        "missing": every(404),
    },
    "portal:access_remove": portal_rows("302 /portal/access/"),
    "portal:access_not_me": portal_rows("302 /portal/access/"),
}
REFUSALS = (LOGIN, PORTAL_LOGIN, ADMIN_LOGIN)


def may_change(cell) -> bool:
    """Only an accepted action (a redirect on, not to a login page) may change rows."""
    return isinstance(cell, str) and cell not in REFUSALS


# --- fixtures ---------------------------------------------------------------------------------
@pytest.fixture
def private_storage(settings, tmp_path):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": tmp_path / "private", "base_url": None},
        },
    }


@pytest.fixture
def world(admin, practitioner, staff, removed_member, outsider, patient, support, private_storage):
    return build_world(
        admin=admin,
        practitioner=practitioner,
        staff=staff,
        removed_member=removed_member,
        outsider=outsider,
        patient=patient,
        support=support,
    )


def body_of(response) -> str:
    if response.streaming:
        return ""  # a document's bytes: what matters is who got a 200
    return response.content.decode(errors="replace")


def check(world, name: str, persona: str, response, expected) -> None:
    if isinstance(expected, str):
        expected = expected.format(**world.placeholders())
    got = observed(response)
    assert got == expected, f"{name} as {persona}: {got}, expected {expected}"
    body = body_of(response)
    leaked = [marker for marker in world.forbidden_markers(persona) if marker in body]
    assert not leaked, f"{name} as {persona} shows another patient's data: {leaked}"
    if response.status_code == 200:  # pages and files that can hold patient data: never cached
        assert "no-store" in response.get("Cache-Control", ""), f"{name} may be cached"


def browser(world, persona: str, target: Target):
    """`persona`'s browser, after opening what the target says it opened first."""
    client = world.client(persona)
    for earlier in target.before:
        client.get(earlier)
    return client


def rows_of(expected: dict, key: str) -> dict[str, list]:
    rows = expected[key]
    return rows if isinstance(rows, dict) else {"-": rows}


# --- the tests --------------------------------------------------------------------------------
CLINIC_NAMESPACES = ("offices:", "records:", "invitations:", "accesscodes:")


def test_every_url_pattern_has_a_row():
    """The clinic matrix, this one and the admin's together cover every URL pattern."""
    from tests.offices.test_permission_matrix import EXPECTED as CLINIC_EXPECTED

    keys = {key for key, _, _ in all_patterns()}
    admin_keys = {key for key in keys if key.startswith("admin:")}
    clinic_keys = {key for key in keys if key.startswith(CLINIC_NAMESPACES)}
    assert clinic_keys == set(CLINIC_EXPECTED), "add the clinic view to the clinic matrix"
    rest = keys - admin_keys - clinic_keys
    assert rest == set(EXPECTED), (
        f"without a row: {sorted(rest - set(EXPECTED))}; "
        f"rows of no pattern: {sorted(set(EXPECTED) - rest)}"
    )
    for key in admin_keys:
        admin_case(key)  # raises for an admin URL the admin matrix cannot build
    assert "devtools" not in get_resolver().namespace_dict, "/dev/outbox/ is mounted"


@pytest.mark.parametrize("key", sorted(EXPECTED))
def test_permission_matrix(key, world):
    targets = targets_of(key, world)
    rows = rows_of(EXPECTED, key)
    assert set(rows) == set(targets), f"{key}: rows for {sorted(rows)}, targets {sorted(targets)}"
    for name, target in targets.items():
        url = url_of(key, target)
        for persona, expected in zip(PERSONAS, rows[name], strict=True):
            response = browser(world, persona, target).get(url)
            check(world, f"{key} [{name}]", persona, response, expected)


@pytest.mark.parametrize("key", sorted(POST_EXPECTED))
def test_post_matrix(key, world):
    """A POST with an id that is not the person's changes nothing and answers as a GET does:
    404, as if the object did not exist."""
    targets = targets_of(key, world)
    rows = rows_of(POST_EXPECTED, key)
    assert set(rows) == set(targets)
    for name, target in targets.items():
        url = url_of(key, target)
        for persona, expected in zip(PERSONAS, rows[name], strict=True):
            client = browser(world, persona, target)
            before = snapshot()
            response = client.post(url, {})
            check(world, f"POST {key} [{name}]", persona, response, expected)
            if not may_change(expected):
                assert snapshot() == before, f"POST {key} [{name}] as {persona} changed data"


def test_not_found_looks_the_same_for_someone_elses_object_and_a_missing_id(world):
    """No existence oracle: another patient's or office's object answers exactly like an id
    that does not exist."""
    compared = 0
    for matrix, method in ((EXPECTED, "get"), (POST_EXPECTED, "post")):
        for key in matrix:
            rows = rows_of(matrix, key)
            if "missing" not in rows:
                continue
            targets = targets_of(key, world)
            missing_url = url_of(key, targets["missing"])
            for index, persona in enumerate(PERSONAS):
                if rows["missing"][index] != 404:
                    continue
                reference = getattr(world.client(persona), method)(missing_url)
                for name, target in targets.items():
                    if name == "missing" or rows[name][index] != 404:
                        continue
                    url = url_of(key, target)
                    response = getattr(world.client(persona), method)(url)
                    assert response.status_code == 404
                    assert response["Content-Type"] == reference["Content-Type"]
                    assert normalized(response.content, url) == normalized(
                        reference.content, missing_url
                    ), f"{method.upper()} {key} [{name}] as {persona} differs from a missing id"
                    compared += 1
    assert compared > 100


# --- the support admin ------------------------------------------------------------------------
# Support's status per registered model; everyone else gets the login redirect.
ADMIN_FULL = {"changelist": 200, "add": 200, "change": 200, "delete": 200, "history": 200}
ADMIN_READ_ONLY = {"changelist": 200, "add": 403, "change": 200, "delete": 403, "history": 200}
ADMIN_MODELS = {
    "account.emailaddress": ADMIN_FULL,
    "accounts.user": ADMIN_FULL,
    "audit.auditevent": ADMIN_READ_ONLY,  # change: a read-only view
    "auth.group": ADMIN_FULL,
    "emails.outgoingemail": {**ADMIN_READ_ONLY, "delete": 200},  # never its content
    "invitations.invitation": ADMIN_READ_ONLY,
    "invitations.reviewrequest": ADMIN_READ_ONLY,  # change: resolve through the service
    "offices.office": ADMIN_FULL,
    "otp_totp.totpdevice": ADMIN_FULL,  # delete: a lost authenticator
}
# The admin's own pages, support's status.
ADMIN_SITE = {
    "admin:index": 200,
    "admin:login": "302 /admin/",  # behind admin_login_redirect (the same address)
    "admin:logout": 405,  # logging out is a POST
    "admin:password_change": 200,
    "admin:password_change_done": 200,
    "admin:autocomplete": 403,  # without a field to complete
    "admin:jsi18n": 200,
    "admin:view_on_site": 404,  # an office has no page of its own
    "admin:app_list": 200,
    "admin:admin/(?P<url>.*)$": 404,
    "admin:auth_user_password_change": 200,
    # An authenticator's secret (its key as a QR code) is never shown, not even to support.
    "admin:otp_totp_totpdevice_config": 403,
    "admin:otp_totp_totpdevice_qrcode": 403,
}
ADMIN_PERSONAS = [*PERSONAS, "support_password_only"]


def _admin_patterns() -> dict:
    return {
        key: (route, pattern) for key, route, pattern in all_patterns() if key.startswith("admin:")
    }


def admin_case(key: str):
    """(the URLs of an admin URL pattern in the world, support's expected status)."""
    from django.contrib import admin as django_admin

    route, pattern = _admin_patterns()[key]
    model_admin = getattr(pattern.callback, "model_admin", None)
    if key in ADMIN_SITE:
        support = ADMIN_SITE[key]
    elif model_admin is not None:
        label = model_admin.model._meta.label_lower
        prefix = f"admin:{label.replace('.', '_')}_"
        if key.startswith(prefix):
            support = ADMIN_MODELS[label][key.removeprefix(prefix)]
        else:  # <object_id>/ without an action: on to the change page
            support = "302 {change}"
    else:
        raise AssertionError(f"{key}: add the admin URL to ADMIN_SITE")

    def urls(world) -> list[str]:
        if key == "admin:app_list":  # one page per application in the admin
            labels = sorted({model._meta.app_label for model in django_admin.site._registry})
            return [reverse("admin:app_list", args=[label]) for label in labels]
        values = {
            "<int:pk>": world.admin_objects["otp_totp.totpdevice"].pk,
            "<id>": world.admin_objects["accounts.user"].pk,
            "<path:content_type_id>": world.office_content_type,
            "<path:object_id>": (
                world.admin_objects[model_admin.model._meta.label_lower].pk
                if model_admin is not None
                else world.offices["lakeside"].pk
            ),
            "(?P<url>.*)$": "no-such-page/",
        }
        path = route
        for placeholder, value in values.items():
            path = path.replace(placeholder, str(value))
        return ["/" + path]

    return urls, support


def admin_row(key: str, support) -> dict:
    """Everyone the admin does not let in goes to the login page; a support operator who has
    not passed two-factor goes to its verification first."""
    row = dict.fromkeys(ADMIN_PERSONAS, ADMIN_LOGIN)
    if key == "admin:login":
        row = dict(zip(PERSONAS, logged_in(403), strict=True))
    elif key == "admin:logout":
        row = dict.fromkeys(ADMIN_PERSONAS, "302 /admin/")
    row["support"] = support
    row["support_password_only"] = "302 /accounts/two-factor/verify/"
    return row


@pytest.fixture
def admin_world(world):
    """One object of each model registered in the admin, for its change, delete and history."""
    from allauth.account.models import EmailAddress
    from django.contrib.auth.models import Group
    from django.contrib.contenttypes.models import ContentType
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from invitations.models import ReviewRequest
    from outsmart.audit.models import AuditEvent
    from outsmart.emails.models import OutgoingEmail

    patient = world.users["patient"]
    world.admin_objects = {
        "account.emailaddress": EmailAddress.objects.get(user=patient),
        "accounts.user": patient,
        "audit.auditevent": AuditEvent.objects.filter(patient=world.patients["olivia"]).first(),
        "auth.group": Group.objects.create(name="Night shift"),
        "emails.outgoingemail": OutgoingEmail.objects.create(
            name="records_connected", to=[world.patients["olivia"].email]
        ),
        "invitations.invitation": world.invitations["to_outsider"],
        "invitations.reviewrequest": ReviewRequest.objects.create(
            invitation=world.invitations["to_outsider"],
            contact_email="boss.personal@example.com",
            note="That address is my work one.",
        ),
        "offices.office": world.offices["lakeside"],
        "otp_totp.totpdevice": TOTPDevice.objects.get(user=world.users["admin"]),
    }
    world.office_content_type = ContentType.objects.get_for_model(world.offices["lakeside"]).pk
    return world


def admin_client(world, persona: str):
    if persona != "support_password_only":
        return world.client(persona)
    client = Client(REMOTE_ADDR="198.51.100.99")
    client.force_login(world.users["support"])  # a password, not yet the second factor
    return client


def run_admin_case(world, key: str) -> None:
    urls, support = admin_case(key)
    for url in urls(world):
        for persona, expected in admin_row(key, support).items():
            if expected == "302 {change}":
                expected = f"302 {url}change/"
            response = admin_client(world, persona).get(url)
            check(world, f"{key} {url}", persona, response, expected)


def test_every_registered_model_has_an_admin_row():
    from django.contrib import admin as django_admin

    registered = {model._meta.label_lower for model in django_admin.site._registry}
    assert registered == set(ADMIN_MODELS)


@pytest.mark.parametrize("label", sorted(ADMIN_MODELS))
def test_admin_matrix_of_each_model(label, admin_world):
    """Changelist, add, change, delete, history (and the bare object address) of the model:
    support only; a clinic admin, a patient or anyone else is sent to log in."""
    keys = [
        key
        for key, (_, pattern) in _admin_patterns().items()
        if getattr(pattern.callback, "model_admin", None) is not None
        and pattern.callback.model_admin.model._meta.label_lower == label
    ]
    assert len(keys) == 6, keys
    for key in keys:
        run_admin_case(admin_world, key)


def test_admin_matrix_of_the_admins_own_pages(admin_world):
    keys = [
        key
        for key, (_, pattern) in _admin_patterns().items()
        if getattr(pattern.callback, "model_admin", None) is None
    ]
    assert set(keys) == set(ADMIN_SITE)
    for key in sorted(keys):
        run_admin_case(admin_world, key)


@pytest.mark.parametrize("persona", ["admin", "patient", "support", "anonymous"])
def test_opening_the_admin_ends_on_a_page_not_in_a_redirect_loop(persona, world):
    """A clinic admin or a patient who types /admin/ is sent to its login, which tells them
    the admin is not for them (it used to send them to the site's login, which sent them
    back to the admin, round and round)."""
    client = world.client(persona)
    url, hops = reverse("admin:offices_office_changelist"), []
    while len(hops) < 5:
        response = client.get(url)
        hops.append(observed(response))
        if response.status_code != 302:
            break
        url = response["Location"]
    ends = {"admin": 403, "patient": 403, "support": 200, "anonymous": 200}[persona]
    assert hops[-1] == ends, hops
    if persona == "anonymous":
        assert hops == [ADMIN_LOGIN, LOGIN, 200]  # allauth's login, then two-factor


def test_support_cannot_read_an_authenticator_secret(admin_world):
    """Support can delete a lost authenticator, never copy one: its key is not on the page."""
    device = admin_world.admin_objects["otp_totp.totpdevice"]
    client = admin_world.client("support")
    for url in (
        reverse("admin:otp_totp_totpdevice_change", args=[device.pk]),
        reverse("admin:otp_totp_totpdevice_changelist"),
    ):
        response = client.get(url)
        assert response.status_code == 200
        assert device.key not in response.content.decode()
        assert reverse("admin:otp_totp_totpdevice_config", args=[device.pk]) not in (
            response.content.decode()
        )


# --- the development outbox -----------------------------------------------------------------
def test_dev_outbox_is_not_served_with_debug_off(world, settings):
    """/dev/outbox/ shows every email (codes, invitation links): with DEBUG off, none of its
    addresses exists, for anyone, even with a message in the outbox."""
    from outsmart.devtools import urls as devtools_urls
    from outsmart.devtools.mail import outbox_dir

    assert not settings.DEBUG
    folder = outbox_dir()
    folder.mkdir(parents=True, exist_ok=True)
    name = "1700000000-0badc0de.eml"
    (folder / name).write_bytes(
        b"To: olivia@example.net\r\nSubject: Your access code\r\n"
        b"Content-Type: text/html\r\n\r\n<p>Quillfeather bloodwork</p>\r\n"
    )
    paths = [
        "/dev/outbox/" + str(p.pattern).replace("<str:name>", name)
        for p in devtools_urls.urlpatterns
    ]
    assert len(paths) == 3
    for path in paths:
        for persona in PERSONAS:
            response = world.client(persona).get(path)
            check(world, path, persona, response, 404)
