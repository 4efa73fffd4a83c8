"""Personal data detection for what clients send to the learning loop (events, feedback, memory).

Deterministic and deliberately coarse: a value that looks like an e-mail address or a phone number is
refused wherever it appears, and so is any text under a key that names personal data (`name`,
`email`, `phone`, ...) in a free-form object. False positives cost a client a rename; false negatives
would store personal data.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[A-Za-z]{2,}")
# Digits with the separators people write phone numbers with (not '.': dates and decimals use it),
# standing alone: not inside a word, an id or a hash (the hex groups of a UUID hold such runs).
_PHONE_TEXT = re.compile(r"(?<![\w\-/.])(?:\+|\(?0)[\d\s\-/()]{6,}\d(?![\w\-/])")
_UUID = re.compile(r"[0-9a-fA-F]{8}-?(?:[0-9a-fA-F]{4}-?){3}[0-9a-fA-F]{12}")
_PHONE_SEPARATORS = re.compile(r"[\s\-/()]")
# Keys that name personal data, compared after lower-casing and removing '-', '_' and spaces.
PERSONAL_KEYS = frozenset(
    {
        "name",
        "fullname",
        "firstname",
        "lastname",
        "surname",
        "givenname",
        "familyname",
        "username",
        "displayname",
        "email",
        "emailaddress",
        "mail",
        "phone",
        "phonenumber",
        "telephone",
        "tel",
        "mobile",
        "address",
        "street",
        "postcode",
        "zip",
        "birthday",
        "dateofbirth",
        "vorname",
        "nachname",
        "telefon",
        "adresse",
        "strasse",
        "straße",
    }
)
ONLY_HASHES = "only salted hashes are accepted: hex, 16 to 128 characters (e.g. sha256(salt + id))"


def looks_like_email(value: str) -> bool:
    return _EMAIL.search(value) is not None


def looks_like_phone(value: str) -> bool:
    """+49 151 1234567, 0049 30 1234567, (030) 1234567, 0151-1234567: 7 to 15 digits after a '+', a
    '00' or a leading 0 (then at least 9 digits, so that a date such as 06/12/2026 is not one).
    A UUID is an id, never a phone number, whatever digit runs its groups hold."""
    if _UUID.fullmatch(value.strip()):
        return False
    for match in _PHONE_TEXT.finditer(value):
        text = match.group(0).strip()
        digits = _PHONE_SEPARATORS.sub("", text)
        if not digits.lstrip("+").isdigit():
            continue
        count = len(digits.lstrip("+"))
        if text.startswith("+") and 7 <= count <= 15:
            return True
        if digits.startswith("0") and 9 <= count <= 15:
            return True
    return False


def is_personal_key(key: str) -> bool:
    return re.sub(r"[\s_\-]", "", key.lower()) in PERSONAL_KEYS


def personal_data_in_text(value: str) -> str | None:
    """What personal data `value` looks like ("an e-mail address", "a phone number"); None if none."""
    if looks_like_email(value):
        return "an e-mail address"
    if looks_like_phone(value):
        return "a phone number"
    return None


def check_text(value: str) -> str:
    """Pydantic validator: `value` unchanged, or ValueError saying what personal data it looks like."""
    found = personal_data_in_text(value)
    if found:
        raise ValueError(f"looks like {found}: personal data is not accepted here")
    return value


def check_mapping(value: Mapping[str, Any]) -> Mapping[str, Any]:
    """Pydantic validator of a flat object: no text under a key that names personal data (`name`,
    `email`, ...), no text that looks like an e-mail address or a phone number under any key."""
    for key, item in value.items():
        if not isinstance(item, str):
            continue  # numbers and flags are no personal data, whatever the key ("mobile": true)
        if is_personal_key(key) and item.strip():
            raise ValueError(f"key {key!r} holds personal data, which is not accepted; send no such field")
        found = personal_data_in_text(item)
        if found:
            raise ValueError(f"{key}: looks like {found}: personal data is not accepted here")
    return value
