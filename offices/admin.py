from django.contrib import admin

from offices.models import Membership, Office


class MembershipInline(admin.TabularInline):
    model = Membership
    fk_name = "office"
    extra = 0
    raw_id_fields = ["user", "removed_by"]
    readonly_fields = ["joined_at"]


@admin.register(Office)
class OfficeAdmin(admin.ModelAdmin):
    list_display = ["name", "phone", "time_zone", "require_two_factor", "setup_completed_at"]
    search_fields = ["name"]
    inlines = [MembershipInline]
