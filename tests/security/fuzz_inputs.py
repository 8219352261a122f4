"""Hypothesis strategies for hostile form input, and the request bodies that carry it.

A body is a list of (name, value) pairs, so a field can be missing, sent twice or sent as a
list; a value is text (any plane, control characters, very long) or raw bytes that are not
UTF-8 at all (lone surrogates as CESU-8, overlong NUL, bytes past U+10FFFF), which is how a lone
surrogate can travel in a form body. The same pairs are encoded as urlencoded, multipart
(with odd part headers and file parts) or as bodies a form cannot read (JSON, plain text, a
charset that is no text encoding).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from urllib.parse import quote_from_bytes

from hypothesis import strategies as st

Value = str | bytes


@dataclass(frozen=True)
class Upload:
    """A file part of a multipart body."""

    filename: bytes
    content: bytes
    content_type: bytes = b"application/octet-stream"


@dataclass
class Body:
    pairs: list[tuple[Value, Value | Upload]]
    encoding: str = "urlencoded"
    headers: dict[str, str] = field(default_factory=dict)

    def describe(self, limit: int = 600) -> str:
        shown = []
        for name, value in self.pairs:
            text = repr(value)
            shown.append(f"{name!r}={text[:120]}{'…' if len(text) > 120 else ''}")
        joined = ", ".join(shown)
        return f"[{self.encoding}] {joined[:limit]}"


# --- characters and text ----------------------------------------------------------------
CONTROL_CHARS = (
    "\x00\x01\x02\x07\x08\x09\x0a\x0b\x0c\x0d\x1b\x1f\x7f\x80\x85\x9b\x9f"
    "\u00ad\u034f\u061c\u180e\u200b\u200c\u200d\u200e\u200f\u2028\u2029\u202a\u202e"
    "\u2060\u2066\u2069\ufeff\ufff9\ufffc\ufffd\ufffe\uffff"
)
# Every plane, surrogates excepted (a str holding one cannot be encoded as UTF-8; lone
# surrogates travel as raw bytes below).
any_char = st.characters(codec="utf-8")
astral_char = st.characters(min_codepoint=0x10000, max_codepoint=0x10FFFF, codec="utf-8")
control_char = st.sampled_from(CONTROL_CHARS)
odd_char = st.one_of(any_char, astral_char, control_char)

odd_text = st.text(odd_char, max_size=40)

NASTY_STRINGS = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "\x00" * 30,
    "\u3000",
    "\r\n\r\n",
    "\n" * 40,
    "\t",
    "null",
    "None",
    "undefined",
    "true",
    "[]",
    "{}",
    "[1, 2]",
    '{"a": 1}',
    "' OR 1=1 --",
    '"; DROP TABLE patients; --',
    "<script>alert(1)</script>",
    "{{ 7|add:7 }}{% debug %}",
    "${7*7}%s%n%x",
    "../../../etc/passwd",
    "C:\\Windows\\win.ini",
    "😀",
    "𝕏𝔶𝕫",
    "\U0010fffd",
    "\U000e0041",
    "Z\u0335\u0321\u0322a\u0338l\u0336g\u0337o",
    "e" + "\u0301" * 200,
    "\u202egpj.exe",
    "ﷺ" * 20,
    "İıſK",
    "ß" * 10,
    "ǅ",
    "NaN",
    "-NaN",
    "Infinity",
    "-inf",
    "1e309",
    "-1e-309",
    "0",
    "-0",
    "-1",
    "00000000001",
    "1.0",
    "1_000",
    "0x10",
    "１２３",
    "٣",
    "9" * 40,
    "-9223372036854775809",
    "9223372036854775808",
    "2147483648",
    "32768",
    "65536",
    "2024-02-30",
    "2023-02-29",
    "0000-00-00",
    "0001-01-01",
    "9999-12-31",
    "10000-01-01",
    "-2024-01-01",
    "1899-12-31",
    "2100-12-31",
    "2199-12-31",
    "2200-01-01",
    "31/12/1999",
    "12/31/1999",
    "1999-12-31T23:59:60Z",
    "25:61",
    "24:00",
    "02:30",
    "-1:00",
    "a@b",
    "@",
    "a@b.c",
    '"\x0b"@example.com',
    '"a\\\x01"@example.com',
    "x@[127.0.0.1]",
    "x@xn--",
    "Ünïcödé@exämple.com",
    "a" * 64 + "@" + "b" * 250 + ".com",
    "someone@example.com\r\nBcc: victim@example.com",
    "/\\evil.example",
    "//evil.example",
    "http://evil.example/",
    "javascript:alert(1)",
    "/%0d%0aSet-Cookie:x=1",
    "/\r\nLocation: http://evil.example",
]
nasty = st.sampled_from(NASTY_STRINGS)

# Repetitions build long strings without making Hypothesis generate every character.
LENGTHS = [64, 65, 101, 151, 201, 255, 256, 501, 1001, 2001, 5001, 20001, 100_001, 1_100_000]
long_text = st.builds(
    lambda unit, length: (unit * (length // len(unit) + 1))[:length],
    st.text(odd_char, min_size=1, max_size=3),
    st.sampled_from(LENGTHS),
)

numbers = st.one_of(
    st.integers(min_value=-(2**80), max_value=2**80).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
)
dates = st.one_of(
    st.dates().map(lambda d: d.isoformat()),
    st.dates().map(lambda d: d.strftime("%d/%m/%Y")),
    st.datetimes().map(lambda d: d.isoformat()),
    st.times().map(lambda t: t.isoformat()),
)
emails = st.emails().map(str)

# Addresses that Django's EmailField lets through but no mailbox has (quoted local parts with
# control characters, invisible characters in the domain), and other odd ones.
ODD_EMAILS = [
    '"\x0b"@example.com',
    '"a\\\x01"@example.com',
    '"\x7f"@example.com',
    '"\x1b[31mred"@example.com',
    '"\x08\x08\x08admin"@example.com',
    "ab@ex\u200bample.com",
    "ab@exa\u00admple.com",
    "ab@\u0435xample.com",
    "ab@EXAMPLE.COM",
    " ab@example.com ",
    "ab@example.com.",
    "ab@[IPv6:::1]",
    "ab+tag@example.com",
    "ab@xn--nxasmq6b.com",
    "ab@例え.jp",
    "a" * 64 + "@example.com",
    "a@" + "b" * 63 + "." + "c" * 63 + "." + "d" * 63 + "." + "e" * 57 + ".com",
]
email_values = st.one_of(
    st.sampled_from(ODD_EMAILS),
    st.builds(
        lambda local, char: f'"{local}{char}"@example.com',
        st.text("abc", max_size=3),
        st.sampled_from([chr(c) for c in (*range(1, 9), 11, 12, *range(14, 32), 127)]),
    ),
    emails,
)
date_values = st.one_of(
    dates,
    st.sampled_from(
        ["2024-02-30", "0000-00-00", "0001-01-01", "9999-12-31", "1899-12-31", "2199-12-31"]
    ),
    st.integers(-(10**6), 10**6).map(lambda n: f"{n}-01-01"),
)


# Bytes that are not UTF-8: the decoder replaces them (a form must still behave).
RAW_BYTES = [
    b"\xed\xa0\x80",  # a lone high surrogate, CESU-8
    b"\xed\xbf\xbf",  # a lone low surrogate
    b"a\xed\xa0\x80b",
    b"\xc0\x80",  # overlong NUL
    b"\xf4\x90\x80\x80",  # past U+10FFFF
    b"\xff\xfe\x00\x00",
    b"\xfe\xff",
    b"\x80",
    b"\xe2\x82",  # truncated
]
raw_bytes = st.one_of(st.sampled_from(RAW_BYTES), st.binary(min_size=1, max_size=16))

generic_values = st.one_of(
    odd_text,
    nasty,
    long_text,
    numbers,
    dates,
    emails,
    raw_bytes,
)
odd_value = generic_values


def values_for(name) -> st.SearchStrategy:
    """Odd values, with more of the kind a field of this name expects (addresses, dates)."""
    text = name if isinstance(name, str) else ""
    if "email" in text:
        return st.one_of(email_values, generic_values)
    if "date" in text or "birth" in text:
        return st.one_of(date_values, generic_values)
    return generic_values


# Field names for fields nobody asked for.
EXTRA_NAMES = [
    "csrfmiddlewaretoken",
    "next",
    "id",
    "pk",
    "office",
    "office_id",
    "user",
    "is_admin",
    "is_staff",
    "is_superuser",
    "role",
    "status",
    "password",
    "email",
    "DELETE",
    "questions-TOTAL_FORMS",
    "questions-INITIAL_FORMS",
    "form-TOTAL_FORMS",
    "__proto__",
    "",
    "\x00",
    "a[]",
    "a[b]",
    "😀",
]
extra_name = st.one_of(st.sampled_from(EXTRA_NAMES), odd_text, raw_bytes)

# --- request bodies ---------------------------------------------------------------------
KEEP, DROP, REPLACE, DUPLICATE, LIST, EMPTY = (
    "keep",
    "drop",
    "replace",
    "duplicate",
    "list",
    "empty",
)
FIELD_OPS = [KEEP, KEEP, REPLACE, REPLACE, DROP, DUPLICATE, LIST, EMPTY]


@st.composite
def mutated_pairs(draw, baseline: list[tuple[str, Value | Upload]], *, values=None):
    """The baseline's fields, each kept, dropped, replaced, duplicated or sent as a list,
    plus a few fields of nobody's. `values` gives some fields their own strategy."""
    values = values or {}
    names = sorted({name for name, _ in baseline})
    # Often only one or two fields are hostile and the others pass, so each field's own
    # checks (and what follows them: the service, the database) are reached, not just the
    # first field that fails.
    focus = draw(
        st.one_of(st.none(), st.sets(st.sampled_from(names), min_size=1, max_size=2))
        if names
        else st.none(),
        label="hostile fields",
    )
    pairs: list[tuple[Value, Value | Upload]] = []
    for name, good in baseline:
        value = values[name] if name in values else values_for(name)
        if focus is not None and name not in focus:
            pairs.append((name, good))
            continue
        op = draw(st.sampled_from(FIELD_OPS), label=name)
        if op == KEEP:
            pairs.append((name, good))
        elif op == REPLACE:
            pairs.append((name, draw(value)))
        elif op == EMPTY:
            pairs.append((name, ""))
        elif op == DUPLICATE:
            pairs.extend([(name, good), (name, draw(value))])
        elif op == LIST:
            for item in draw(st.lists(value, min_size=2, max_size=4)):
                pairs.append((name, item))
    for _ in range(draw(st.integers(0, 3))):
        name = draw(
            st.one_of(st.sampled_from(sorted(values)), extra_name) if values else extra_name
        )
        pairs.append((name, draw(values[name] if name in values else values_for(name))))
    if draw(st.booleans()):
        pairs = draw(st.permutations(pairs))
    return pairs


ENCODINGS = [
    *["urlencoded"] * 6,
    *["multipart"] * 4,
    # Bodies no form can read: each is refused as a whole, not field by field.
    "json",
    "plain",
    "multipart-rot13",
    "multipart-idna",
    "multipart-broken",
    "urlencoded-latin1",
]


@st.composite
def bodies(draw, baseline, *, values=None, encodings=ENCODINGS):
    pairs = draw(mutated_pairs(baseline, values=values))
    has_upload = any(isinstance(v, Upload) for _, v in pairs)
    encoding = (
        "multipart" if has_upload and draw(st.booleans()) else draw(st.sampled_from(encodings))
    )
    return Body(pairs=pairs, encoding=encoding)


def _bytes(value: Value) -> bytes:
    return value if isinstance(value, bytes) else value.encode("utf-8")


BOUNDARY = b"fuzzBoundary7MA4YWxkTrZu0gW"


def _quoted(value: bytes) -> bytes:
    return value.replace(b"\\", b"\\\\").replace(b'"', b'\\"')


def _multipart(pairs, *, boundary: bytes = BOUNDARY, broken: bool = False) -> bytes:
    parts = []
    for name, value in pairs:
        head = b'Content-Disposition: form-data; name="' + _quoted(_bytes(name)) + b'"'
        if isinstance(value, Upload):
            head += b'; filename="' + _quoted(value.filename) + b'"'
            head += b"\r\nContent-Type: " + value.content_type
            content = value.content
        else:
            content = _bytes(value)
        parts.append(b"--" + boundary + b"\r\n" + head + b"\r\n\r\n" + content + b"\r\n")
    body = b"".join(parts) + b"--" + boundary + b"--\r\n"
    if broken:
        # A body cut short in the middle of a part, as a dropped connection leaves it.
        body = body[: max(len(body) // 2, 1)]
    return body


def _value_bytes(value) -> bytes:
    if isinstance(value, Upload):
        return value.content
    return _bytes(value)


def encode(body: Body) -> tuple[bytes, str]:
    """(raw body, Content-Type) for `body`."""
    pairs = body.pairs
    if body.encoding.startswith("urlencoded"):
        raw = b"&".join(
            quote_from_bytes(_bytes(n)).encode() + b"=" + quote_from_bytes(_value_bytes(v)).encode()
            for n, v in pairs
        )
        content_type = "application/x-www-form-urlencoded"
        if body.encoding == "urlencoded-latin1":
            content_type += "; charset=latin-1"
        return raw, content_type
    if body.encoding == "multipart":
        return _multipart(pairs), f"multipart/form-data; boundary={BOUNDARY.decode()}"
    if body.encoding in ("multipart-rot13", "multipart-idna"):
        # Codecs Python knows that are no usable text encoding for a form.
        charset = body.encoding.removeprefix("multipart-")
        return (
            _multipart(pairs),
            f"multipart/form-data; boundary={BOUNDARY.decode()}; charset={charset}",
        )
    if body.encoding == "multipart-broken":
        return _multipart(pairs, broken=True), f"multipart/form-data; boundary={BOUNDARY.decode()}"
    if body.encoding == "json":
        data: dict[str, object] = {}
        for name, value in pairs:
            key = _bytes(name).decode("utf-8", "replace")
            item = _value_bytes(value).decode("utf-8", "replace")
            data.setdefault(key, []).append(item)
        return json.dumps(data).encode(), "application/json"
    raw = b"\n".join(_bytes(n) + b"=" + _value_bytes(v) for n, v in pairs)
    return raw, "text/plain"


def query_string(pairs) -> str:
    return "&".join(
        quote_from_bytes(_bytes(n)) + "=" + quote_from_bytes(_value_bytes(v)) for n, v in pairs
    )


# --- path segments (tokens in links) --------------------------------------------------------
def path_segment(value: Value) -> str:
    """A URL path segment carrying `value` (percent-encoded, so any byte can travel)."""
    return quote_from_bytes(_bytes(value), safe="") or "%20"


odd_segment = st.one_of(odd_text.filter(bool), nasty.filter(bool), long_text, raw_bytes)

# --- uploads ---------------------------------------------------------------------------------
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 40
ODD_FILE_NAMES = [
    b"scan.pdf",
    b"",
    b".",
    b"..",
    b"../../etc/passwd.pdf",
    b"..\\..\\boot.ini.pdf",
    b"/abs/path.pdf",
    b"C:\\fakepath\\scan.pdf",
    b"a\x00.pdf",
    b"a\x00b.png",
    b"\r\nContent-Type: text/html\r\n\r\n<x>.pdf",
    b'evil"; name="title".pdf',
    b"\xe2\x80\xaegpj.exe",
    b"\xed\xa0\x80.pdf",
    b"\xff\xfe.pdf",
    "r\u00e9sum\u00e9 \U0001f600.pdf".encode(),
    b"x" * 300 + b".pdf",
    b"a.PDF",
    b"a.pdf.exe",
    b"image.svg",
    b"page.html",
    b"%2e%2e%2fescape.pdf",
    b"&#47;etc&#47;passwd.pdf",
    b"con.pdf",
    b"a" * 5000,
]
file_bodies = st.one_of(
    st.sampled_from(
        [
            PDF,
            PNG,
            b"",
            b"\x00",
            b"<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>",
            b"<html><script>alert(1)</script></html>",
            b"%PDF-",
            b"GIF89a",
            b"RIFF\x00\x00\x00\x00WEBP",
            b"\xff\xd8\xff",
            PDF * 3000,
        ]
    ),
    st.binary(max_size=64),
    st.binary(max_size=8).map(lambda b: PDF + b),
)
uploads = st.builds(
    Upload,
    filename=st.one_of(st.sampled_from(ODD_FILE_NAMES), odd_text.map(lambda t: t.encode())),
    content=file_bodies,
    content_type=st.sampled_from(
        [b"application/pdf", b"image/png", b"text/html", b"image/svg+xml", b"", b"\x00/\x01"]
    ),
)
