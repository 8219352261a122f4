from django import forms
from django.contrib import admin

from offices.forms import clean_address
from offices.models import Membership, Office, time_zone_choices
from outsmart.text import single_line


class MembershipInline(admin.TabularInline):
    model = Membership
    fk_name = "office"
    extra = 0
    raw_id_fields = ["user", "removed_by"]
    readonly_fields = ["joined_at"]


class OfficeAdminForm(forms.ModelForm):
    """The office's details as support types them, cleaned as on the office's own Details form:
    no control characters, and a time zone from the list (every page of the office shows
    times in it: one typed wrong would break them all)."""

    time_zone = forms.ChoiceField(
        label="Time zone", choices=time_zone_choices, initial="America/Toronto"
    )

    class Meta:
        model = Office
        fields = "__all__"  # noqa: DJ007 (the admin's fieldsets decide what is shown)

    def clean_name(self) -> str:
        name = single_line(self.cleaned_data["name"])
        if not name:
            raise forms.ValidationError("Enter the office's name.")
        return name

    def clean_address(self) -> str:
        return clean_address(self.cleaned_data["address"])

    def clean_phone(self) -> str:
        return single_line(self.cleaned_data["phone"])


@admin.register(Office)
class OfficeAdmin(admin.ModelAdmin):
    list_display = ["name", "phone", "time_zone", "require_two_factor", "setup_completed_at"]
    search_fields = ["name"]
    inlines = [MembershipInline]
    form = OfficeAdminForm

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if not change:  # every new office starts with the ready Smart Forms
            from records.services.smartforms import smart_forms_install_defaults

            smart_forms_install_defaults(office=obj)
