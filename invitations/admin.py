from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied

from invitations import services
from invitations.forms import ReviewResolveForm
from invitations.models import Invitation, ReviewRequest


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    """Read-only for support: changes go through the services (resend, revoke, review)."""

    list_display = [
        "email",
        "office",
        "role",
        "is_admin",
        "status",
        "delivery_state",
        "delivery_attempts",
        "created_at",
        "expires_at",
    ]
    list_filter = ["status", "delivery_state", "role"]
    search_fields = ["email", "office__name"]
    list_select_related = ["office"]
    exclude = ["token_nonce", "token_digest"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ReviewRequest)
class ReviewRequestAdmin(admin.ModelAdmin):
    """Support's queue of "request a review". Resolving goes through
    `review_request_resolve`, which re-sends or closes and writes the audit event."""

    form = ReviewResolveForm
    list_display = ["created_at", "status", "office", "invited_email", "contact_email"]
    list_filter = ["status"]
    search_fields = ["invitation__email", "contact_email", "invitation__office__name"]
    list_select_related = ["invitation__office"]
    readonly_fields = [
        "office",
        "invited_email",
        "invited_role",
        "invitation_status",
        "contact_email",
        "note",
        "created_at",
        "status",
        "resolved_at",
        "resolved_by",
    ]
    fieldsets = [
        (
            "Request",
            {
                "fields": [
                    "office",
                    "invited_email",
                    "invited_role",
                    "invitation_status",
                    "contact_email",
                    "note",
                    "created_at",
                    "status",
                ]
            },
        ),
        (
            "Resolution",
            {
                "fields": [
                    "resolution",
                    "new_email",
                    "resolution_note",
                    "resolved_at",
                    "resolved_by",
                ]
            },
        ),
    ]

    @admin.display(description="Office")
    def office(self, obj):
        return obj.invitation.office

    @admin.display(description="Invited address")
    def invited_email(self, obj):
        return obj.invitation.email

    @admin.display(description="Role")
    def invited_role(self, obj):
        return obj.invitation.role_label

    @admin.display(description="Invitation status")
    def invitation_status(self, obj):
        return obj.invitation.get_status_display()

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None and obj.status == ReviewRequest.Status.RESOLVED:
            fields += ["resolution", "resolution_note"]
        return fields

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if obj is not None and obj.status == ReviewRequest.Status.RESOLVED:
            request_part, (title, options) = fieldsets
            fields = [f for f in options["fields"] if f != "new_email"]
            return [request_part, (title, {"fields": fields})]
        return fieldsets

    def save_model(self, request, obj, form, change):
        if not change or obj.status != ReviewRequest.Status.OPEN:
            raise PermissionDenied
        try:
            services.review_request_resolve(
                review=obj,
                resolution=form.cleaned_data["resolution"],
                new_email=form.cleaned_data.get("new_email", ""),
                note=form.cleaned_data.get("resolution_note", ""),
                actor=request.user,
                request=request,
            )
        except services.InvitationError as error:
            # The admin shows "changed successfully" after save_model; say what really happened.
            messages.error(request, f"Not resolved: {error}")
            return
        obj.refresh_from_db()
