"""Chinese identifiers: normalisation and check characters (standard §3).

USCC (GB 32100), RIC (GB 11643) and the ISO 7064 MOD 11,10 check digit of the
15-digit registration number come from python-stdnum. It has no module for
GB 11714 organisation codes, so that check rule is implemented here.
Used by the landing/silver normalisers, the GX expectations, linking and the
generator alike, so there is one definition of each rule.
"""

from __future__ import annotations

import re

from stdnum.cn import ric as _ric
from stdnum.cn import uscc as _uscc
from stdnum.iso7064 import mod_11_10 as _mod_11_10

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_ORG_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
_FULLWIDTH = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)}
_FULLWIDTH[0x3000] = 0x20  # ideographic space
_SEPARATORS = re.compile(r"[\s\-_]")


def to_halfwidth(text: str) -> str:
    """Full-width ASCII forms (０-９, Ａ-Ｚ, （）, ideographic space) to half-width."""
    return text.translate(_FULLWIDTH)


def compact_identifier(value: str | None) -> str | None:
    """Half-width, upper-case, without spaces or hyphens; None for empty."""
    if value is None:
        return None
    cleaned = _SEPARATORS.sub("", to_halfwidth(str(value))).upper()
    return cleaned or None


# --- USCC (统一社会信用代码) ------------------------------------------------


def uscc_check_char(first17: str) -> str:
    return _uscc.calc_check_digit(first17)


def is_valid_uscc(value: str | None) -> bool:
    code = compact_identifier(value)
    return bool(code) and len(code) == 18 and _uscc.is_valid(code)


def uscc_org_code(uscc: str) -> str:
    """Characters 9-17 of a USCC: the organisation code it embeds."""
    return uscc[8:17]


def uscc_region_code(uscc: str) -> str:
    return uscc[2:8]


# --- Organisation code (组织机构代码, GB 11714) ----------------------------


def org_code_check_char(first8: str) -> str:
    total = sum(_ORG_ALPHABET.index(ch) * w for ch, w in zip(first8, _ORG_WEIGHTS, strict=True))
    check = 11 - total % 11
    return {10: "X", 11: "0"}.get(check, str(check))


def is_valid_org_code(value: str | None) -> bool:
    code = compact_identifier(value)
    if not code or len(code) != 9 or not re.fullmatch(r"[0-9A-Z]{8}[0-9X]", code):
        return False
    return org_code_check_char(code[:8]) == code[8]


# --- Old registration number (注册号, 15 digits, ISO 7064 MOD 11,10) -------


def reg_no_check_digit(first14: str) -> str:
    return _mod_11_10.calc_check_digit(first14)


def is_valid_reg_no(value: str | None) -> bool:
    code = compact_identifier(value)
    return bool(code) and len(code) == 15 and code.isdigit() and _mod_11_10.is_valid(code)


# --- Old tax id (税务登记号) = region code + organisation code ----------------


def is_valid_tax_id(value: str | None) -> bool:
    code = compact_identifier(value)
    return bool(code) and len(code) == 15 and code[:6].isdigit() and is_valid_org_code(code[6:])


# --- RIC (居民身份证号, GB 11643) -------------------------------------------


def ric_check_char(first17: str) -> str:
    # stdnum expects the whole number and ignores its last character.
    return _ric.calc_check_digit(first17 + "0")


def is_valid_ric(value: str | None) -> bool:
    code = compact_identifier(value)
    if not code or len(code) != 18:
        return False
    try:
        _ric.validate(code)
    except Exception:  # noqa: BLE001 - stdnum raises several ValidationError kinds
        return False
    return True


# --- Law-enforcement certificate number (执法证号) ---------------------------


def is_valid_cert_no(value: str | None) -> bool:
    code = compact_identifier(value)
    return bool(code) and len(code) == 14 and code.isdigit() and 1 <= int(code[6:8]) <= 11


def identifier_kind(value: str | None) -> str | None:
    """Which valid identifier a value is: uscc, org_code, tax_id, reg_no, ric, or None."""
    code = compact_identifier(value)
    if not code:
        return None
    if len(code) == 18:
        if is_valid_uscc(code):
            return "uscc"
        if is_valid_ric(code):
            return "ric"
    elif len(code) == 9 and is_valid_org_code(code):
        return "org_code"
    elif len(code) == 15:
        if is_valid_tax_id(code):
            return "tax_id"
        if is_valid_reg_no(code):
            return "reg_no"
    return None
