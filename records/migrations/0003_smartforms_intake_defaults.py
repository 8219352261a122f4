"""Give every existing office the ready "New patient intake" Smart Form.

New offices get it from `records.services.smartforms.smart_forms_install_defaults`; this is the
same template, frozen here as it was when the migration was written (a migration must not
change meaning when the service's copy is edited later). Offices that already have a form with
that title keep theirs.
"""

from django.db import migrations

TITLE = "New patient intake"
INSTRUCTIONS = (
    "Please answer these questions before your first visit: they help your practitioner "
    "prepare. Questions marked (optional) can be left blank.\n\n"
    "If you need urgent care, do not use this form: call 911 or go to the nearest emergency "
    "department."
)
# (text, kind, required, choices, help_text)
QUESTIONS = [
    (
        "What is the main reason for your visit?",
        "long_text",
        True,
        [],
        "In your own words: what you feel, since when, what makes it better or worse.",
    ),
    (
        "Which medications do you take at the moment?",
        "long_text",
        True,
        [],
        "Include vitamins and supplements, with the dose if you know it. "
        "Write “None” if you take none.",
    ),
    ("Do you have any allergies?", "yes_no", True, [], ""),
    (
        "If you have allergies: what are you allergic to, and what happens?",
        "long_text",
        False,
        [],
        "Medications, foods, latex, insect stings…",
    ),
    (
        "Do you smoke?",
        "single_choice",
        True,
        ["Never smoked", "Former smoker", "Yes, occasionally", "Yes, daily"],
        "",
    ),
    (
        "Have you ever been told you have any of these conditions?",
        "multiple_choice",
        True,
        [
            "High blood pressure",
            "Diabetes",
            "Asthma or COPD",
            "Heart disease",
            "Thyroid disease",
            "Depression or anxiety",
            "Cancer",
            "None of these",
        ],
        "Choose all that apply.",
    ),
    (
        "When was your last physical exam?",
        "date",
        False,
        [],
        "An approximate date is fine.",
    ),
    (
        "How much pain do you have today, from 0 to 10?",
        "number",
        True,
        [],
        "0 means no pain at all, 10 the worst pain you can imagine.",
    ),
]


def install_intake(apps, schema_editor):
    Office = apps.get_model("offices", "Office")
    SmartForm = apps.get_model("records", "SmartForm")
    Question = apps.get_model("records", "Question")
    for office in Office.objects.order_by("pk").iterator():
        if SmartForm.objects.filter(office=office, title__iexact=TITLE).exists():
            continue
        form = SmartForm.objects.create(office=office, title=TITLE, instructions=INSTRUCTIONS)
        Question.objects.bulk_create(
            Question(
                form=form,
                position=position,
                text=text,
                kind=kind,
                required=required,
                choices=choices,
                help_text=help_text,
            )
            for position, (text, kind, required, choices, help_text) in enumerate(
                QUESTIONS, start=1
            )
        )


class Migration(migrations.Migration):
    dependencies = [
        ("offices", "0001_initial"),
        ("records", "0002_treatmentplan_edited_by"),
    ]

    # Going back leaves the templates in place: they may have been edited or sent since.
    operations = [migrations.RunPython(install_intake, migrations.RunPython.noop)]
