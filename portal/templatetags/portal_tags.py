from functools import cache

from django import template
from django.utils.html import format_html, format_html_join

from accesscodes.words import words

register = template.Library()


@cache
def _datalist() -> str:
    options = format_html_join("", '<option value="{}">', ((w,) for w in words()))
    return format_html('<datalist id="access-code-words">{}</datalist>', options)


@register.simple_tag
def code_words_datalist() -> str:
    """The word list as a <datalist>: each code field suggests words as the person types."""
    return _datalist()
