"""The four-word codes: the EFF short word list 2, drawing codes with `secrets`, and reading back
what a person typed (case, separators, pasted strings, the four fields, typos, bad input)."""

from __future__ import annotations

import re
import secrets

import pytest

from accesscodes import words as words_module
from accesscodes.words import (
    MAX_INPUT_LENGTH,
    WORDLIST_PATH,
    CodeFormatError,
    code_generate,
    code_parse,
    word_read,
    words,
)

CODE = ("aardvark", "passport", "yo-yo", "zucchini")


def letters(word: str) -> str:
    return re.sub(r"[^a-z]", "", word)


# --- the word list -------------------------------------------------------------------------------
def test_word_list_has_1296_distinct_words():
    assert len(words()) == 1296
    assert len(set(words())) == 1296


def test_every_word_has_its_own_three_letter_start_counting_letters_only():
    starts = [letters(word)[:3] for word in words()]
    assert len(set(starts)) == 1296
    assert all(len(start) == 3 for start in starts)
    # The one word with a non-letter is read by its letters: "yo-yo" starts with "yoy".
    assert [word for word in words() if not word.isalpha()] == ["yo-yo"]
    assert "yoy" in starts and "yo-" not in starts


def test_words_are_lower_case_and_between_three_and_ten_letters():
    assert all(word == word.lower() and word.strip() == word for word in words())
    assert min(len(letters(word)) for word in words()) == 3
    assert max(len(word) for word in words()) <= 10


def test_word_list_file_carries_its_attribution():
    text = WORDLIST_PATH.read_text(encoding="utf-8")
    header = "\n".join(line for line in text.splitlines() if line.startswith("#"))
    assert "Electronic Frontier Foundation" in header
    assert "CC BY 3.0 US" in header
    assert "https://creativecommons.org/licenses/by/3.0/us/" in header
    # The header is not read as words.
    assert not any(word.startswith("#") for word in words())
    assert words()[0] == "aardvark" and words()[-1] == "zucchini"


# --- drawing codes -------------------------------------------------------------------------------
def test_a_new_code_is_four_list_words_separated_by_spaces():
    code = code_generate()
    drawn = code.split(" ")
    assert len(drawn) == 4
    assert all(word in words() for word in drawn)
    assert code_parse(code).text == code


def test_code_generate_draws_each_word_with_secrets(monkeypatch):
    calls = []

    def choice(sequence):
        calls.append(sequence)
        return ("zucchini", "passport", "gem", "yo-yo")[len(calls) - 1]

    monkeypatch.setattr(words_module.secrets, "choice", choice)
    assert code_generate() == "zucchini passport gem yo-yo"
    assert len(calls) == 4
    assert all(tuple(sequence) == words() for sequence in calls)


def test_code_generate_is_not_seeded_and_spreads_over_the_whole_list():
    codes = [code_generate() for _ in range(2000)]
    # 2,000 codes out of 2.8e12: any repeat would mean a broken generator.
    assert len(set(codes)) == 2000
    drawn = [word for code in codes for word in code.split(" ")]
    # 8,000 draws from 1,296 words leave on average 3 words unseen; 100 would be a broken draw.
    assert len(set(drawn)) > 1196
    # Each position draws from the whole list, not from a slice of it.
    for position in range(4):
        column = {code.split(" ")[position] for code in codes}
        assert len(column) > 700


def test_generated_codes_read_back_unchanged():
    for _ in range(300):
        code = code_generate()
        parsed = code_parse(code)
        assert parsed.text == code
        assert parsed.corrected == ()
        assert code_parse(code.upper().replace(" ", "-")).text == code


def test_secrets_module_is_the_source(monkeypatch):
    # A draw made through `random` would ignore this patch and not fail.
    monkeypatch.setattr(secrets, "choice", lambda sequence: sequence[0])
    assert code_generate() == "aardvark aardvark aardvark aardvark"


# --- reading what was typed: accepted ---------------------------------------------------------
@pytest.mark.parametrize(
    "typed",
    [
        "aardvark passport yo-yo zucchini",
        "AARDVARK PASSPORT YO-YO ZUCCHINI",
        "Aardvark Passport Yo-Yo Zucchini",
        "  aardvark   passport \t yo-yo  zucchini  ",
        "aardvark-passport-yo-yo-zucchini",
        "aardvark.passport.yo-yo.zucchini",
        "aardvark, passport, yo-yo, zucchini.",
        "aardvark\npassport\nyo-yo\nzucchini\n",
        "aardvark–passport—yo-yo zucchini",  # dashes a word processor makes
        "aardvark passport yoyo zucchini",
        "aardvark passport yo yo zucchini",
        "aardvark passport YO YO zucchini",
        "aardvark_passport_yo_yo_zucchini",
        "“aardvark passport yo-yo zucchini”",
        ["aardvark", "passport", "yo-yo", "zucchini"],
        [" Aardvark ", "PASSPORT", "yo yo", "zucchini\n"],
        ["aardvark", "passport", "yoyo", "zucchini"],
        ("aardvark", "passport", "yo-yo", "zucchini"),
        # The whole code pasted into the first field, the other three left empty.
        ["aardvark passport yo-yo zucchini", "", "", ""],
    ],
)
def test_code_is_read_whatever_the_case_separators_or_fields(typed):
    parsed = code_parse(typed)
    assert parsed.words == CODE
    assert parsed.text == "aardvark passport yo-yo zucchini"
    assert parsed.corrected == ()


@pytest.mark.parametrize(
    ("typed", "read_as"),
    [
        ("pastde", "passport"),  # a typo after the first three letters
        ("pas", "passport"),  # only the first three letters
        ("PASSPROT", "passport"),
        ("passports", "passport"),
        ("aardvak", "aardvark"),
        ("zuchini", "zucchini"),
        ("yoy", "yo-yo"),
    ],
)
def test_a_typo_is_corrected_by_the_words_unique_three_letter_start(typed, read_as):
    parsed = code_parse(f"aardvark {typed} gem zucchini")
    assert parsed.words[1] == read_as
    assert parsed.corrected == ((typed.lower(), read_as),)
    assert word_read(typed) == read_as


def test_corrections_are_reported_in_order():
    parsed = code_parse("aardvak pastde yoyo zuc")
    assert parsed.words == CODE
    assert parsed.corrected == (
        ("aardvak", "aardvark"),
        ("pastde", "passport"),
        ("zuc", "zucchini"),
    )


# --- reading what was typed: refused with a clear message ----------------------------------------
def test_three_words_are_refused_saying_how_many_were_entered():
    with pytest.raises(CodeFormatError) as refused:
        code_parse("aardvark passport zucchini")
    assert str(refused.value) == (
        "An access code has 4 words; you entered 3. Check the code your practitioner gave you."
    )


def test_five_words_are_refused_saying_how_many_were_entered():
    with pytest.raises(CodeFormatError, match=r"^An access code has 4 words; you entered 5\."):
        code_parse("aardvark passport yo-yo zucchini gem")


def test_a_word_not_in_the_list_is_named_with_suggestions():
    with pytest.raises(CodeFormatError) as refused:
        code_parse("aardvark zzpassport yo-yo zucchini")
    message = str(refused.value)
    assert message.startswith("“zzpassport” is not one of the access code words. Did you mean ")
    assert "“passport”" in message


def test_a_word_without_a_close_match_asks_to_check_the_spelling():
    with pytest.raises(CodeFormatError) as refused:
        code_parse("aardvark qqqqqq yo-yo zucchini")
    assert str(refused.value) == (
        "“qqqqqq” is not one of the access code words. "
        "Check the spelling against the code you were given."
    )


def test_a_two_letter_field_is_named_not_merged_into_the_next_field():
    # Four fields typed, one of them too short to be a word: the person is told which field,
    # not that they "entered 3 words".
    with pytest.raises(CodeFormatError) as refused:
        code_parse(["aardvark", "pa", "gem", "zucchini"])
    assert str(refused.value).startswith("“pa” is not one of the access code words.")


@pytest.mark.parametrize(
    "typed",
    [
        "",
        "   ",
        [],
        ["", "", "", ""],
        ["", " ", "\t", "\n"],
        None,
        1234,
        "1234 5678 9012 3456",
        "0000-0000-0000-0000",
        "🙂 🙂 🙂 🙂",
        "🙂🙂🙂🙂",
        "---- .... ,,,, ____",
    ],
)
def test_input_without_letters_asks_for_the_four_words(typed):
    with pytest.raises(CodeFormatError) as refused:
        code_parse(typed)
    assert str(refused.value) == "Enter the four words of your access code."


def test_digits_and_emoji_around_the_words_are_ignored():
    assert code_parse("1 aardvark 2 passport 3 yo-yo 4 zucchini").words == CODE
    assert code_parse("🙂aardvark🙂 passport yo-yo zucchini🙂").words == CODE


@pytest.mark.parametrize(
    "typed",
    [
        "a" * 10_000,
        "aardvark " * 1_250,
        ["aardvark", "passport", "yo-yo", "z" * 10_000],
        "🙂" * 10_000,
        "x" * (MAX_INPUT_LENGTH + 1),
    ],
)
def test_ten_thousand_characters_are_refused_unread(typed, monkeypatch):
    def must_not_run(*args):
        raise AssertionError("long input was tokenised")

    monkeypatch.setattr(words_module, "_tokens", must_not_run)
    with pytest.raises(CodeFormatError) as refused:
        code_parse(typed)
    assert str(refused.value) == (
        "That is much longer than an access code. An access code is four short words."
    )


def test_html_is_refused_and_the_message_carries_no_markup():
    with pytest.raises(CodeFormatError) as refused:
        code_parse("<script>alert(1)</script>")
    assert str(refused.value).startswith("An access code has 4 words; you entered 3.")
    with pytest.raises(CodeFormatError) as refused:
        code_parse('<img src=x onerror="alert(1)">')
    message = str(refused.value)
    assert "<" not in message and ">" not in message and '"' not in message


@pytest.mark.parametrize(
    "typed",
    [
        "'; DROP TABLE accesscodes_accesscode; --",
        "' OR '1'='1' --",
        "SELECT * FROM users WHERE 1=1",
        "<b>aardvark</b> <i>passport</i>",
        "<script>alert('yo-yo')</script>",
        "Robert'); DROP TABLE patients;--",
    ],
)
def test_sql_and_html_either_read_as_list_words_or_get_a_clear_message(typed):
    # Only letters ever reach a word: what is read is four list words (hashed and looked up
    # like any other guess) or a message with nothing of the markup in it.
    try:
        parsed = code_parse(typed)
    except CodeFormatError as refused:
        message = str(refused)
        assert message
        assert not set(message) & set("<>'=*()")
    else:
        assert len(parsed.words) == 4
        assert all(word in words() for word in parsed.words)


def test_sql_keywords_are_read_as_the_list_words_with_those_starts():
    parsed = code_parse("'; DROP TABLE accesscodes_accesscode; --")
    assert parsed.words == ("droppings", "tablespoon", "accountant", "accountant")
