from django.contrib import admin

from outsmart.emails.models import OutgoingEmail


@admin.register(OutgoingEmail)
class OutgoingEmailAdmin(admin.ModelAdmin):
    """Support can see whether an email went out; never its content (sealed, then wiped)."""

    list_display = ["name", "created_at", "delivery_state", "delivery_attempts", "delivery_error"]
    list_filter = ["delivery_state", "name"]
    date_hierarchy = "created_at"
    fields = [*list_display, "to", "sent_at", "delivery_due_at"]
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
