from django.contrib import admin

from outsmart.audit.models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Read-only: support can search the log, nobody can change it."""

    list_display = ["created_at", "action", "actor", "office", "target_repr", "ip", "request_id"]
    list_filter = ["action"]
    search_fields = ["action", "actor__email", "request_id", "target_repr"]
    list_select_related = ["actor", "office"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
