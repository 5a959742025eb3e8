"""Resident identity card numbers (GB 11643-1999): validation and masking."""

from __future__ import annotations

from datetime import date

from core import clock

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK_CHARS = "10X98765432"
# Province-level codes in use in ID numbers, including Taiwan, Hong Kong and Macao.
PROVINCE_CODES = frozenset(
    [
        "11",
        "12",
        "13",
        "14",
        "15",
        "21",
        "22",
        "23",
        "31",
        "32",
        "33",
        "34",
        "35",
        "36",
        "37",
        "41",
        "42",
        "43",
        "44",
        "45",
        "46",
        "50",
        "51",
        "52",
        "53",
        "54",
        "61",
        "62",
        "63",
        "64",
        "65",
        "71",
        "81",
        "82",
        "83",
        "91",
    ]
)


def check_digit(first17: str) -> str:
    total = sum(int(d) * w for d, w in zip(first17, WEIGHTS, strict=True))
    return CHECK_CHARS[total % 11]


def validate_id_number(value: str) -> tuple[str, list[str]]:
    """Return ``(normalized, errors)``; errors are Chinese messages for the user.

    The county part (digits 3-6) is not checked against the current division list:
    a card stays valid after its issuing county is abolished or renamed.
    """
    raw = (value or "").strip().upper()
    if len(raw) != 18:
        return raw, ["身份证号码应为18位"]
    if not raw[:17].isdigit() or not (raw[17].isdigit() or raw[17] == "X"):
        return raw, ["身份证号码格式不正确：前17位应为数字，最后一位为数字或X"]
    if raw[:2] not in PROVINCE_CODES:
        return raw, ["身份证号码的省份代码不正确"]
    try:
        birth = birth_date(raw)
    except ValueError:
        return raw, ["身份证号码中的出生日期不正确"]
    today = clock.local_today()
    if birth > today:
        return raw, ["身份证号码中的出生日期晚于今天"]
    if birth.year < 1880:
        return raw, ["身份证号码中的出生日期不正确"]
    if check_digit(raw[:17]) != raw[17]:
        return raw, ["身份证号码校验位不正确，请核对后重新输入"]
    return raw, []


def birth_date(id_number: str) -> date:
    return date(int(id_number[6:10]), int(id_number[10:12]), int(id_number[12:14]))


def age_on(id_number: str, on: date) -> int:
    born = birth_date(id_number)
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def mask(id_number: str | None) -> str | None:
    """``360124199001011234`` -> ``3601**********1234``."""
    if not id_number:
        return id_number
    if len(id_number) <= 8:
        return "*" * len(id_number)
    return id_number[:4] + "*" * (len(id_number) - 8) + id_number[-4:]


def make_id_number(prefix6: str, born: date, seq: int) -> str:
    """Build a valid number (demo data and tests)."""
    first17 = f"{prefix6}{born:%Y%m%d}{seq:03d}"
    return first17 + check_digit(first17)
