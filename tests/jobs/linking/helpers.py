"""Valid identifiers and silver-shaped rows for the linking tests (small, named, readable)."""

from __future__ import annotations

from regulake.identifiers import org_code_check_char, reg_no_check_digit, ric_check_char, uscc_check_char


def org_code(seq: int) -> str:
    first8 = f"{seq:08d}"
    return first8 + org_code_check_char(first8)


def uscc(region: str, seq: int) -> str:
    first17 = "91" + region + org_code(seq)
    return first17 + uscc_check_char(first17)


def broken_check(code: str) -> str:
    """The same identifier with a wrong check character."""
    last = code[-1]
    return code[:-1] + ("1" if last != "1" else "2")


def reg_no(region: str, seq: int) -> str:
    first14 = region + f"{seq:08d}"
    return first14 + reg_no_check_digit(first14)


def tax_id(region: str, seq: int) -> str:
    return region + org_code(seq)


def ric(seq: int) -> str:
    # python-stdnum checks that the birth place existed in the birth year: 中牟县 in 2000 does.
    first17 = "410122" + "20000101" + f"{seq:03d}"
    return first17 + ric_check_char(first17)


ENTERPRISE_SCHEMA = (
    "uscc string, reg_no string, org_code string, ent_name string, legal_rep_name string, legal_rep_id_no string, "
    "region_code string, address string, status string, updated_at timestamp, _batch_date string, "
    "_record_no int, _record_key string, _dq_flags array<string>, _is_current boolean, _ingested_at timestamp"
)


def enterprise_row(code: str, name: str, region: str, address: str | None = None, *, reg: str | None = None,
                   rep: str = "张伟", rep_ric: str | None = None, batch: str = "20240131", record_no: int = 1):
    from datetime import datetime

    ingested = datetime.strptime(batch + "21", "%Y%m%d%H")
    return (code, reg, None, name, rep, rep_ric, region, address, "存续", ingested, batch, record_no, code, [], True,
            ingested)
