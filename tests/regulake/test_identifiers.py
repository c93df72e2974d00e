import random

import pytest

from regulake import identifiers as ids

# A USCC and the organisation code it embeds, built with the check rules themselves.
ORG8 = "MA92CK0T"
ORG = ORG8 + ids.org_code_check_char(ORG8)
USCC17 = "91411723" + ORG
USCC = USCC17 + ids.uscc_check_char(USCC17)


def test_uscc_variants_normalise_and_validate():
    assert ids.is_valid_uscc(USCC)
    assert ids.is_valid_uscc(" " + USCC.lower() + " ")
    fullwidth = "".join(chr(ord(c) + 0xFEE0) for c in USCC)
    assert ids.compact_identifier(fullwidth) == USCC
    assert ids.is_valid_uscc(fullwidth)
    wrong = USCC[:-1] + ("0" if USCC[-1] != "0" else "1")
    assert not ids.is_valid_uscc(wrong)


def test_org_code_is_uscc_chars_9_to_17_and_has_its_own_check():
    assert ids.uscc_org_code(USCC) == ORG
    assert ids.is_valid_org_code(ORG[:8] + "-" + ORG[8])
    assert not ids.is_valid_org_code(ORG[:8] + ("0" if ORG[8] != "0" else "1"))
    assert ids.identifier_kind(ORG) == "org_code"


@pytest.mark.parametrize("known", ["D2143569-X", "12345678-8"])
def test_org_code_known_values(known):
    # Check characters worked by hand with GB 11714 weights 3,7,9,10,5,8,4,2 (mod 11).
    assert ids.is_valid_org_code(known)
    assert not ids.is_valid_org_code(known[:-1] + "5")


def test_reg_no_iso7064_mod_11_10():
    body = "41010510012345"
    reg_no = body + ids.reg_no_check_digit(body)
    assert ids.is_valid_reg_no(reg_no)
    assert ids.identifier_kind(reg_no) == "reg_no"
    assert not ids.is_valid_reg_no(body + str((int(reg_no[-1]) + 1) % 10))


def _hand_written_mod_11_10(first14: str) -> str:
    """The ISO 7064 MOD 11,10 loop regulake used before python-stdnum's (kept as the oracle)."""
    product = 10
    for ch in first14:
        total = (product + int(ch)) % 10 or 10
        product = (2 * total) % 11
    return str((11 - product) % 10)


def test_reg_no_check_digit_agrees_with_the_hand_written_algorithm():
    rng = random.Random(20240131)
    for _ in range(20_000):
        body = "".join(rng.choice("0123456789") for _ in range(14))
        expected = _hand_written_mod_11_10(body)
        assert ids.reg_no_check_digit(body) == expected, body
        assert ids.is_valid_reg_no(body + expected), body
        assert not ids.is_valid_reg_no(body + str((int(expected) + 1) % 10)), body


def test_tax_id_is_region_plus_org_code():
    assert ids.is_valid_tax_id("410105" + ORG)
    assert ids.identifier_kind("410105" + ORG) == "tax_id"


def test_ric_check_digit():
    body = "41010519900307123"
    ric = body + ids.ric_check_char(body)
    assert ids.is_valid_ric(ric.lower())
    assert ids.identifier_kind(ric) == "ric"
    assert not ids.is_valid_ric(body + ("0" if ric[-1] != "0" else "1"))


def test_cert_no_has_region_and_department_number():
    assert ids.is_valid_cert_no("41010501000123")
    assert not ids.is_valid_cert_no("41010599000123")
