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

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if not change:  # every new office starts with the ready Smart Forms
            from records.services.smartforms import smart_forms_install_defaults

            smart_forms_install_defaults(office=obj)
