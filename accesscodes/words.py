"""The four-word access codes: drawing them, and reading back what a person typed.

Words come from the EFF short word list 2 (data/eff_short_wordlist_2_0.txt, CC BY 3.0 US):
1,296 words whose first three letters are all different, so "pasted", "Pasted-", "pastde" and
"pas" all mean one word. Four words give 1,296**4 ≈ 2.8e12 codes, about 41 bits.
"""

from __future__ import annotations

import difflib
import re
import secrets
from dataclasses import dataclass
from functools import cache
from pathlib import Path

WORD_COUNT = 4
WORDLIST_PATH = Path(__file__).parent / "data" / "eff_short_wordlist_2_0.txt"
# Nobody types or pastes a four-word code longer than this; longer input is refused unread.
MAX_INPUT_LENGTH = 200


def _letters(word: str) -> str:
    # "yo-yo" is the list's one word with a non-letter; people type it "yo-yo", "yoyo" or "yo yo".
    return re.sub(r"[^a-z]", "", word)


@cache
def words() -> tuple[str, ...]:
    lines = WORDLIST_PATH.read_text(encoding="utf-8").splitlines()
    return tuple(line.strip() for line in lines if line.strip() and not line.startswith("#"))


@cache
def _by_letters() -> dict[str, str]:
    return {_letters(word): word for word in words()}


@cache
def _by_prefix() -> dict[str, str]:
    return {_letters(word)[:3]: word for word in words()}


def code_generate() -> str:
    """A new code: four words drawn independently with `secrets`, separated by spaces."""
    vocabulary = words()
    return " ".join(secrets.choice(vocabulary) for _ in range(WORD_COUNT))


class CodeFormatError(ValueError):
    """What was typed cannot be a code. The message says what to fix, in plain words."""


@dataclass(frozen=True)
class ParsedCode:
    words: tuple[str, ...]
    corrected: tuple[tuple[str, str], ...]  # (what was typed, the word it was read as)

    @property
    def text(self) -> str:
        """The canonical form: the form the keyed hash is taken of."""
        return " ".join(self.words)


def _tokens(typed: str) -> list[str]:
    tokens = re.findall(r"[a-z]+", typed.lower())
    merged: list[str] = []
    for token in tokens:
        # A piece too short to be a word is the front of a split one ("yo" "yo" of "yo-yo").
        if merged and len(merged[-1]) < 3:
            merged[-1] += token
        else:
            merged.append(token)
    return merged


def word_read(token: str) -> str | None:
    """The list word `token` stands for: itself, or the one word with its first three letters."""
    letters = _letters(token.lower())
    if letters in _by_letters():
        return _by_letters()[letters]
    if len(letters) >= 3:
        return _by_prefix().get(letters[:3])
    return None


def suggestions(token: str, limit: int = 3) -> list[str]:
    return difflib.get_close_matches(token.lower(), words(), n=limit, cutoff=0.6)


def code_parse(typed: str | list[str] | tuple[str, ...]) -> ParsedCode:
    """Read a code from what a person typed: one string (pasted, any case, spaces, hyphens or
    dots between words) or the four fields of the form. Each word is corrected by its unique
    three-letter start. Raises CodeFormatError with a message that says what to fix."""
    fields = list(typed) if isinstance(typed, list | tuple) else [typed]
    fields = [field if isinstance(field, str) else "" for field in fields]
    if sum(len(field) for field in fields) > MAX_INPUT_LENGTH:
        raise CodeFormatError(
            "That is much longer than an access code. An access code is four short words."
        )
    # Each field on its own: a short piece is joined only to the rest of its own field ("yo yo"),
    # never to the word in the next field.
    tokens = [token for field in fields for token in _tokens(field)]
    if not tokens:
        raise CodeFormatError("Enter the four words of your access code.")
    if len(tokens) != WORD_COUNT:
        raise CodeFormatError(
            f"An access code has {WORD_COUNT} words; you entered {len(tokens)}. "
            "Check the code your practitioner gave you."
        )
    read: list[str] = []
    corrected: list[tuple[str, str]] = []
    for token in tokens:
        word = word_read(token)
        if word is None:
            hint = suggestions(token)
            message = f"“{token[:30]}” is not one of the access code words."
            if hint:
                message += " Did you mean " + " or ".join(f"“{h}”" for h in hint) + "?"
            else:
                message += " Check the spelling against the code you were given."
            raise CodeFormatError(message)
        if _letters(word) != token:
            corrected.append((token, word))
        read.append(word)
    return ParsedCode(words=tuple(read), corrected=tuple(corrected))
