"""Smart Form forms: the template editor (title, instructions and a formset of questions) and
`AnswerForm`, the dynamic form a patient fills, built from a FormRequest's snapshot.

Forms validate and normalise; they have no side effects.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

from django import forms
from django.utils.html import escape

from outsmart.text import CONTROL, multi_line, single_line
from records.models import CHOICE_KINDS, QuestionKind, SmartForm

LINE_BREAK = re.compile(r"[\r\n]")

TITLE_MAX = 200
INSTRUCTIONS_MAX = 2000
QUESTION_MAX = 500
QUESTION_HELP_MAX = 300
CHOICE_MAX = 200
MIN_CHOICES = 2
MAX_CHOICES = 30
MAX_QUESTIONS = 100

SHORT_ANSWER_MAX = 500
LONG_ANSWER_MAX = 5000
EARLIEST_DATE = date(1900, 1, 1)
LATEST_DATE = date(2100, 12, 31)
NUMBER_LIMIT = Decimal("1000000000")  # answers stay within ±1e9
NUMBER_DECIMALS = 4


# --- the template editor ----------------------------------------------------------------------
class SmartFormForm(forms.Form):
    title = forms.CharField(
        label="Title", max_length=TITLE_MAX, error_messages={"required": "Enter a title."}
    )
    instructions = forms.CharField(
        label="Instructions",
        required=False,
        max_length=INSTRUCTIONS_MAX,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text="Shown to the patient above the questions.",
    )
    is_active = forms.BooleanField(
        label="Active: can be sent to patients",
        required=False,
        initial=True,
    )

    def __init__(self, *args, office, instance: SmartForm | None = None, **kwargs):
        self.office = office
        self.instance = instance
        if instance is not None:
            kwargs.setdefault(
                "initial",
                {
                    "title": instance.title,
                    "instructions": instance.instructions,
                    "is_active": instance.is_active,
                },
            )
        super().__init__(*args, **kwargs)

    def clean_title(self) -> str:
        title = single_line(self.cleaned_data["title"])
        if not title:
            raise forms.ValidationError("Enter a title.")
        others = SmartForm.objects.filter(office=self.office, title__iexact=title)
        if self.instance is not None:
            others = others.exclude(pk=self.instance.pk)
        if others.exists():
            raise forms.ValidationError("Another Smart Form of this office has this title.")
        return title

    def clean_instructions(self) -> str:
        return multi_line(self.cleaned_data["instructions"])


class QuestionForm(forms.Form):
    id = forms.IntegerField(required=False, widget=forms.HiddenInput)
    text = forms.CharField(
        label="Question",
        required=False,
        max_length=QUESTION_MAX,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    kind = forms.ChoiceField(
        label="Answer type", choices=QuestionKind.choices, initial=QuestionKind.SHORT_TEXT
    )
    required = forms.BooleanField(label="Required", required=False, initial=True)
    choices = forms.CharField(
        label="Choices",
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="One choice per line (single and multiple choice questions only).",
    )
    help_text = forms.CharField(
        label="Hint for the patient",
        required=False,
        max_length=QUESTION_HELP_MAX,
    )
    position = forms.IntegerField(
        label="Order",
        required=False,
        min_value=1,
        max_value=999,
        widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Show every choice of an existing question without scrolling.
        lines = str(self.initial.get("choices") or "").count("\n") + 2
        self.fields["choices"].widget.attrs["rows"] = max(4, min(lines, 12))

    def clean_text(self) -> str:
        return single_line(self.cleaned_data["text"])

    def clean_help_text(self) -> str:
        return single_line(self.cleaned_data["help_text"])

    def clean_choices(self) -> list[str]:
        choices = [single_line(line) for line in self.cleaned_data["choices"].splitlines()]
        return [c for c in choices if c]

    def clean(self) -> dict:
        data = super().clean()
        if "text" in data and not data["text"]:
            self.add_error("text", "Enter the question, or tick “Remove” to drop it.")
        kind, choices = data.get("kind"), data.get("choices")
        if kind is None or choices is None:
            return data
        if kind in CHOICE_KINDS:
            error = choices_error(choices)
            if error:
                self.add_error("choices", error)
        elif choices:
            self.add_error(
                "choices",
                "Only single and multiple choice questions have choices: "
                "remove them or change the answer type.",
            )
        return data


def choices_error(choices: list[str]) -> str | None:
    if len(choices) < MIN_CHOICES:
        return "Enter at least two choices, one per line."
    if len(choices) > MAX_CHOICES:
        return f"Offer at most {MAX_CHOICES} choices."
    if any(len(choice) > CHOICE_MAX for choice in choices):
        return f"Keep each choice to {CHOICE_MAX} characters or fewer."
    seen: set[str] = set()
    for choice in choices:
        if choice.casefold() in seen:
            return f"Each choice must be different: “{choice}” is listed twice."
        seen.add(choice.casefold())
    return None


class BaseQuestionFormSet(forms.BaseFormSet):
    default_error_messages = {
        "missing_management_form": "The list of questions did not arrive complete. "
        "Open this page again and make your changes once more.",
        "too_many_forms": f"A Smart Form has at most {MAX_QUESTIONS} questions.",
    }

    def add_fields(self, form, index) -> None:
        super().add_fields(form, index)
        if "DELETE" in form.fields:
            form.fields["DELETE"].label = "Remove this question"

    def clean(self) -> None:
        if any(self.errors) or not self.management_form.is_valid():
            return
        if not self.questions():
            raise forms.ValidationError("A Smart Form needs at least one question.")

    def questions(self) -> list[dict]:
        """The kept questions in their new order: by the order number given, rows without one
        last. A question given a new number takes that place, ahead of the one that had it
        ("move to 3" makes it the third question); other ties keep the order shown."""
        rows = []
        for index, form in enumerate(self.forms):
            if not form.has_changed() and not form.cleaned_data.get("id"):
                continue
            if self.can_delete and self._should_delete_form(form):
                continue
            position = form.cleaned_data.get("position")
            moved = position != form.initial.get("position")
            rows.append(((position is None, position or 0, not moved, index), form.cleaned_data))
        return [data for _key, data in sorted(rows, key=lambda row: row[0])]


QuestionFormSet = forms.formset_factory(
    QuestionForm,
    formset=BaseQuestionFormSet,
    extra=2,
    can_delete=True,
    max_num=MAX_QUESTIONS,
    validate_max=True,
    absolute_max=MAX_QUESTIONS + 20,
)


def question_formset(data=None, *, form: SmartForm | None, extra: int = 2) -> QuestionFormSet:
    """The questions of `form` (or none for a new one), and `extra` blank rows to add more."""
    initial = []
    if form is not None:
        initial = [
            {
                "id": q.pk,
                "text": q.text,
                "kind": q.kind,
                "required": q.required,
                "choices": "\n".join(q.choices),
                "help_text": q.help_text,
                "position": number,
            }
            for number, q in enumerate(form.questions.all(), start=1)
        ]
    formset = QuestionFormSet(data, initial=initial, prefix="questions")
    formset.extra = extra
    return formset


# --- answers ------------------------------------------------------------------------------------
YES_NO = [("yes", "Yes"), ("no", "No")]


class AnswerForm(forms.Form):
    """The questions of a FormRequest's snapshot as a form, one field `q_<question id>` each.

    `data` is what an HTML form posts (a QueryDict, or a dict of strings, and lists for
    multiple choice). `answers()` gives what is stored, in plain JSON types:
    text and single choice → str; multiple choice → list of str in the question's order;
    yes/no → bool; date → ISO "YYYY-MM-DD" str; number → the decimal as a str ("7", "72.5"), so
    nothing is lost to floating point. Unanswered optional questions are left out.
    """

    def __init__(self, questions: list[dict], data=None, **kwargs):
        super().__init__(data, **kwargs)
        self.questions = questions
        for question in questions:
            self.fields[field_name(question)] = answer_field(question)

    def answers(self) -> dict[str, object]:
        stored: dict[str, object] = {}
        for question in self.questions:
            value = self.cleaned_data.get(field_name(question))
            if value in (None, "", []):
                continue
            kind = question["kind"]
            if kind == QuestionKind.DATE:
                value = value.isoformat()
            elif kind == QuestionKind.NUMBER:
                value = number_text(value)
            elif kind == QuestionKind.MULTIPLE_CHOICE:
                value = [c for c in question["choices"] if c in value]
            stored[str(question["id"])] = value
        return stored


def field_name(question: dict) -> str:
    return f"q_{question['id']}"


def number_text(value: Decimal) -> str:
    if value == 0:
        return "0"
    return format(value.normalize(), "f")


class LongTextAnswer(forms.CharField):
    def to_python(self, value):
        # Invisible and control characters are dropped, line breaks made plain.
        value = super().to_python(value).replace("\r\n", "\n").replace("\r", "\n")
        return CONTROL.sub("", value).strip()


class ShortTextAnswer(LongTextAnswer):
    def to_python(self, value):
        value = super().to_python(value)
        if LINE_BREAK.search(value):
            raise forms.ValidationError("Keep this answer on one line.")
        return value


def answer_field(question: dict) -> forms.Field:
    kind = question["kind"]
    common = {
        "label": question["text"],
        "required": question["required"],
        # form_fields.html renders help text as HTML; a question's hint is plain text.
        "help_text": escape(question.get("help_text") or ""),
    }
    required = {"required": "Answer this question."}
    if kind == QuestionKind.SHORT_TEXT:
        return ShortTextAnswer(
            max_length=SHORT_ANSWER_MAX,
            error_messages={
                **required,
                "max_length": f"Keep this answer to {SHORT_ANSWER_MAX} characters or fewer.",
            },
            **common,
        )
    if kind == QuestionKind.LONG_TEXT:
        return LongTextAnswer(
            max_length=LONG_ANSWER_MAX,
            widget=forms.Textarea(attrs={"rows": 4}),
            error_messages={
                **required,
                "max_length": f"Keep this answer to {LONG_ANSWER_MAX} characters or fewer.",
            },
            **common,
        )
    if kind == QuestionKind.SINGLE_CHOICE:
        return forms.ChoiceField(
            choices=[(c, c) for c in question["choices"]],
            widget=forms.RadioSelect(attrs={"class": "choice-list"}),
            error_messages={
                "required": "Choose an answer.",
                "invalid_choice": "Choose one of the answers listed.",
            },
            **common,
        )
    if kind == QuestionKind.MULTIPLE_CHOICE:
        return forms.MultipleChoiceField(
            choices=[(c, c) for c in question["choices"]],
            widget=forms.CheckboxSelectMultiple(attrs={"class": "choice-list"}),
            error_messages={
                "required": "Choose at least one answer.",
                "invalid_choice": "Choose only among the answers listed.",
                "invalid_list": "Choose only among the answers listed.",
            },
            **common,
        )
    if kind == QuestionKind.YES_NO:
        return forms.TypedChoiceField(
            choices=YES_NO,
            coerce=lambda value: value == "yes",
            empty_value=None,
            widget=forms.RadioSelect(attrs={"class": "choice-list choice-inline"}),
            error_messages={"required": "Answer yes or no.", "invalid_choice": "Answer yes or no."},
            **common,
        )
    if kind == QuestionKind.DATE:
        return forms.DateField(
            input_formats=["%Y-%m-%d"],
            widget=forms.DateInput(
                attrs={"type": "date", "class": "input-short"}, format="%Y-%m-%d"
            ),
            validators=[_date_in_range],
            error_messages={
                **required,
                "invalid": "Enter a real date, e.g. 2024-05-31.",
            },
            **common,
        )
    if kind == QuestionKind.NUMBER:
        return forms.DecimalField(
            min_value=-NUMBER_LIMIT,
            max_value=NUMBER_LIMIT,
            decimal_places=NUMBER_DECIMALS,
            widget=forms.NumberInput(
                attrs={"step": "any", "inputmode": "decimal", "class": "input-short"}
            ),
            error_messages={
                **required,
                "invalid": "Enter a number, e.g. 7 or 72.5.",
                "min_value": "Enter a number between -1,000,000,000 and 1,000,000,000.",
                "max_value": "Enter a number between -1,000,000,000 and 1,000,000,000.",
                "max_decimal_places": f"Use at most {NUMBER_DECIMALS} decimal places.",
            },
            **common,
        )
    raise ValueError(f"unknown question kind {kind!r}")


def _date_in_range(value: date) -> None:
    if not EARLIEST_DATE <= value <= LATEST_DATE:
        raise forms.ValidationError("Enter a date between 1900 and 2100.")


# --- recording that a form was given -----------------------------------------------------------
class FormRequestForm(forms.Form):
    form = forms.ModelChoiceField(
        label="Smart Form",
        queryset=SmartForm.objects.none(),
        empty_label="Choose a Smart Form",
        error_messages={
            "required": "Choose a Smart Form.",
            "invalid_choice": "Choose one of this office's active Smart Forms.",
        },
    )

    def __init__(self, *args, office, **kwargs):
        super().__init__(*args, **kwargs)
        from records.selectors.smartforms import smart_forms_sendable

        self.fields["form"].queryset = smart_forms_sendable(office)
