from allauth.account.views import LoginView


class PortalLoginView(LoginView):
    """The patient portal's front door: log in, or "Register Here" at the bottom."""

    template_name = "portal/login.html"
