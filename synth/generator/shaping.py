"""From clean logical records to what departments actually deliver.

A feed generator returns `Records`: one row per version of a business record, with the
time it was made (which decides the batch it is delivered in) and its true identity.
`shape()` then does, in order: batch assignment, the incremental-extract rule (only the
latest version of a key per delivery, mostly), value variants, record defects, exact
duplicates within and across deliveries, and re-sending the records of deliveries that
will be rejected or are incomplete. The result is a `Shaped` table ready for the writer.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from regulake.feeds import FeedSchema

from . import defects as D
from .specs import full_delivery

QUARANTINE = {"parse_error", "encoding_error", "missing_required", "invalid_key", "invalid_value"}
IDENTIFIER_TYPES = {"uscc", "unit_code", "taxpayer_id", "party_id", "ric", "org_code", "reg_no"}
# Which key columns may be made invalid for `invalid_key`, and how. An identifier in a key
# that fails its check is invalid_key in every feed (standard v1.1 §2); an old tax id
# (15-20 characters, not 18) has no check and is accepted as it is, so it is never broken.
INVALID_KEY = {"samr_enterprise": ("uscc",), "samr_annual_report": ("uscc", "report_year"),
               "tax_credit": ("纳税人识别号", "评价年度"), "hrss_social_insurance": ("unit_code", "period")}
_CHECKED_ID_LENGTHS = (9, 18)  # organisation code, USCC


@dataclass
class Records:
    """Clean records of one feed for one chunk (column lists are aligned)."""

    feed: FeedSchema
    cols: dict[str, list]
    ts: np.ndarray                      # version time (seconds): decides the batch
    key: list[str]                      # normalised business key
    entity: list                        # true USCC or None
    id_kind: list
    name_variant: list | None = None
    mentions: list | None = None        # sentiment: [(entity, id_kind, name_variant), ...] per record
    late: np.ndarray | None = None      # extra batches of delay (late deliveries)
    aux: dict = field(default_factory=dict)   # e.g. industry_class for industry variants

    def __len__(self) -> int:
        return len(self.key)


@dataclass
class Shaped:
    feed: FeedSchema
    rows: list[list]                    # values in the standard's column order
    batch: np.ndarray
    key: list
    entity: list
    id_kind: list
    name_variant: list
    defect: list
    variants: list
    mentions: list | None


@dataclass
class ShapeContext:
    cfg: dict
    batches: int
    cutoffs: np.ndarray                 # int64 seconds: batch k holds records made up to cutoffs[k]
    status: dict                        # (feed_id, batch) -> loaded | rejected | incomplete


def _take(values: list, idx: np.ndarray) -> list:
    return [values[i] for i in idx.tolist()]


def shape(rec: Records, ctx: ShapeContext, rng: np.random.Generator) -> Shaped:  # noqa: C901
    feed = rec.feed
    k_batches = ctx.batches
    n = len(rec)
    ts = np.asarray(rec.ts, dtype=np.int64)
    batch = np.searchsorted(ctx.cutoffs, ts, side="left")
    if rec.late is not None:
        batch = batch + rec.late
    keep = batch < k_batches

    # Incremental extracts carry the latest version of a key per delivery; a full snapshot always.
    codes = pd.factorize(np.asarray(rec.key, dtype=object))[0] if n else np.zeros(0, dtype=np.int64)
    order = np.lexsort((ts, batch, codes))
    same_next = np.zeros(n, dtype=bool)
    if n > 1:
        same_next[order[:-1]] = (codes[order[:-1]] == codes[order[1:]]) & (batch[order[:-1]] == batch[order[1:]])
    keep_rate = float(ctx.cfg["feeds"]["keep_intra_delivery_versions"])
    snapshot = full_delivery(feed, batch)
    drop = same_next & ((rng.random(n) >= keep_rate) | snapshot)
    idx = np.nonzero(keep & ~drop)[0]

    names = feed.column_names
    cols = {c: _take(rec.cols[c], idx) for c in names}
    aux = {k: _take(v, idx) for k, v in rec.aux.items()}
    batch = batch[idx]
    ts = ts[idx]
    key = _take(rec.key, idx)
    entity = _take(rec.entity, idx)
    id_kind = _take(rec.id_kind, idx)
    name_variant = _take(rec.name_variant, idx) if rec.name_variant is not None else [None] * len(idx)
    mentions = _take(rec.mentions, idx) if rec.mentions is not None else None
    m = len(idx)
    tags: dict[int, list[str]] = {}

    _variants(feed, cols, aux, m, ctx.cfg["variants"], rng, tags)
    defect = _defects(feed, cols, key, m, ctx.cfg["defects"], rng, tags)

    rows = [list(r) for r in zip(*(cols[c] for c in names), strict=True)] if m else []
    variants = [",".join(tags[i]) if i in tags else None for i in range(m)]

    # Exact duplicates of clean, single-version records of loaded deliveries.
    loaded = np.array([ctx.status.get((feed.feed_id, int(b)), "loaded") == "loaded" for b in range(k_batches)])
    key_codes = pd.factorize(np.asarray(key, dtype=object))[0] if m else np.zeros(0, dtype=np.int64)
    single = np.bincount(key_codes, minlength=max(m, 1))[key_codes] == 1 if m else np.zeros(0, dtype=bool)
    clean = np.array([d is None for d in defect], dtype=bool) & single & (loaded[batch] if m else single)
    extra_src: list[int] = []
    extra_batch: list[int] = []
    extra_ts: list[int] = []
    extra_defect: list[str | None] = []
    dcfg = ctx.cfg["defects"]
    within = np.nonzero(clean & (rng.random(m) < float(dcfg["duplicate_within"])))[0]
    for i in within.tolist():
        extra_src.append(i)
        extra_batch.append(int(batch[i]))
        extra_ts.append(int(ts[i]) + int(rng.integers(60, 3 * 86_400)))
        extra_defect.append("duplicate")
    across = np.nonzero(clean & (rng.random(m) < float(dcfg["duplicate_across"])) & (batch < k_batches - 1))[0]
    for i in across.tolist():
        later = [b for b in range(int(batch[i]) + 1, k_batches) if loaded[b]]
        if not later:
            continue
        target = later[int(rng.integers(0, len(later)))]
        lo = int(ctx.cutoffs[target - 1])
        extra_src.append(i)
        extra_batch.append(target)
        extra_ts.append(lo + int(rng.integers(0, max(1, int(ctx.cutoffs[target]) - lo))))
        extra_defect.append("duplicate")
    # Records of a delivery that will be rejected or is incomplete are sent again next batch.
    for b in range(k_batches - 1):
        if not loaded[b]:
            for i in np.nonzero(batch == b)[0].tolist():
                extra_src.append(i)
                extra_batch.append(b + 1)
                extra_ts.append(int(ts[i]))
                extra_defect.append(defect[i])

    if extra_src:
        src = np.array(extra_src, dtype=np.int64)
        rows = rows + [rows[i] for i in extra_src]
        key = key + [key[i] for i in extra_src]
        entity = entity + [entity[i] for i in extra_src]
        id_kind = id_kind + [id_kind[i] for i in extra_src]
        name_variant = name_variant + [name_variant[i] for i in extra_src]
        variants = variants + [variants[i] for i in extra_src]
        defect = defect + extra_defect
        if mentions is not None:
            mentions = mentions + [mentions[i] for i in extra_src]
        batch = np.concatenate([batch, np.array(extra_batch, dtype=batch.dtype)])
        ts = np.concatenate([ts, np.array(extra_ts, dtype=np.int64)])
        del src

    # Order within each delivery: by time, except coop task events, which arrive out of order.
    sort_ts = rng.permutation(len(ts)) if feed.feed_id == "coop_task_event" else ts
    final = np.lexsort((sort_ts, batch))
    return Shaped(
        feed=feed, rows=_take(rows, final), batch=batch[final], key=_take(key, final),
        entity=_take(entity, final), id_kind=_take(id_kind, final), name_variant=_take(name_variant, final),
        defect=_take(defect, final), variants=_take(variants, final),
        mentions=_take(mentions, final) if mentions is not None else None,
    )


def _pick(m: int, rate: float, rng: np.random.Generator) -> list[int]:
    if m == 0 or rate <= 0:
        return []
    count = rng.binomial(m, min(rate, 1.0))
    return rng.choice(m, size=count, replace=False).tolist() if count else []


def _tag(tags: dict, i: int, tag: str) -> None:
    tags.setdefault(i, []).append(tag)


def _variants(feed: FeedSchema, cols: dict, aux: dict, m: int, vcfg: dict, rng: np.random.Generator,  # noqa: C901
              tags: dict) -> None:
    jsonl = feed.format == "jsonl"
    for col in feed.columns:
        values = cols[col.name]
        col_type = col.type
        if col_type in IDENTIFIER_TYPES:
            for tag, rate in (("id_lowercase", vcfg["id_lowercase"]), ("id_fullwidth", vcfg["id_fullwidth"]),
                              ("id_padded", vcfg["id_padded"])):
                for i in _pick(m, rate, rng):
                    v = values[i]
                    if not isinstance(v, str) or not v or v != v.strip() or not v.isascii():
                        continue
                    if tag == "id_lowercase" and v.lower() == v:
                        continue
                    values[i] = D.identifier_variant(v, tag[3:])
                    _tag(tags, i, tag)
        elif col_type == "text" and col.name not in feed.key:
            for i in _pick(m, vcfg["text_padded"], rng):
                v = values[i]
                if isinstance(v, str) and v and "\n" not in v:
                    values[i] = " " * (1 + i % 2) + v + " " * (i % 3)
                    _tag(tags, i, "text_padded")
        elif col_type == "region_code":
            for i in _pick(m, vcfg["region_fullwidth"], rng):
                if isinstance(values[i], str) and values[i]:
                    values[i] = D.fullwidth(values[i])
                    _tag(tags, i, "region_fullwidth")
        elif col_type == "date":
            for i in _pick(m, vcfg["date_other_format"], rng):
                v = values[i]
                day = _parse_day(v)
                if day is None:
                    continue
                from .timeline import DATE_STYLES, one_date

                style = DATE_STYLES[int(rng.integers(0, len(DATE_STYLES)))]
                new = one_date(day, style)
                if new != v:
                    values[i] = new
                    _tag(tags, i, f"date_{style}")
        elif col_type == "timestamp":
            for i in _pick(m, vcfg["timestamp_other_format"], rng):
                v = values[i]
                sec = _parse_ts(v)
                if sec is None:
                    continue
                from .timeline import TIMESTAMP_STYLES, one_timestamp

                style = TIMESTAMP_STYLES[int(rng.integers(0, 3))]
                new = one_timestamp(sec, style)
                if new != v and not (style == "slash" and feed.feed_id == "personnel"):
                    values[i] = new
                    _tag(tags, i, f"timestamp_{style}")
        elif col_type == "amount":
            for i in _pick(m, vcfg["amount_suffix"], rng):
                number = _to_float(values[i])
                if number is None or number <= 0:
                    continue
                values[i], tag = D.amount_variant(number, col.unit, rng)
                _tag(tags, i, tag)
            if jsonl:
                for i in _pick(m, vcfg["jsonl_amount_string"], rng):
                    if isinstance(values[i], int | float) and not isinstance(values[i], bool):
                        values[i] = f"{values[i]}"
                        _tag(tags, i, "amount_string")
        elif col_type == "industry_code":
            classes = aux.get("industry_class")
            for i in _pick(m, vcfg["industry_other_form"], rng):
                if classes and values[i] and classes[i]:
                    values[i], tag = D.industry_variant(values[i], classes[i], rng)
                    _tag(tags, i, tag)
        elif col_type == "enum":
            if col.name == "status" and feed.feed_id == "samr_enterprise":
                for i in _pick(m, vcfg["status_zaiye"], rng):
                    if values[i] == "存续":
                        values[i] = "在业"
                        _tag(tags, i, "status_zaiye")
            if (feed.feed_id, col.name) in D.ENUM_HOUSE_STYLE:
                for i in _pick(m, vcfg["enum_other_form"], rng):
                    other = D.enum_variant(feed.feed_id, col.name, values[i]) if isinstance(values[i], str) else None
                    if other:
                        values[i] = other
                        _tag(tags, i, "enum_other_form")
        elif col_type == "list":
            for i in _pick(m, vcfg["list_other_separator"], rng):
                v = values[i]
                items = v if isinstance(v, list) else (v.split(";") if isinstance(v, str) and v else None)
                if items and len(items) > 1 or (jsonl and items):
                    values[i], tag = D.list_variant(items, rng, jsonl)
                    _tag(tags, i, tag)
        elif col_type == "boolean":
            for i in _pick(m, vcfg["boolean_other_form"], rng):
                if values[i] in ("是", "否"):
                    values[i] = D.boolean_variant(values[i], rng)
                    _tag(tags, i, "boolean_other_form")
        elif col_type == "month":
            for i in _pick(m, vcfg["date_other_format"], rng):
                if isinstance(values[i], str) and len(values[i]) == 7:
                    values[i] = values[i].replace("-", "")
                    _tag(tags, i, "month_compact")


def _defects(feed: FeedSchema, cols: dict, key: list, m: int, dcfg: dict, rng: np.random.Generator,  # noqa: C901
             tags: dict) -> list:
    defect: list = [None] * m
    if m == 0:
        return defect
    columns = feed.columns
    req_nonkey = [c for c in columns if c.required and c.name not in feed.key]
    invalid_cols = [c for c in req_nonkey if D.invalid_for(c, rng) is not None]
    optional = [c for c in columns if not c.required and c.type in
                ("amount", "int", "number", "ric", "boolean", "date", "timestamp", "enum", "region_code")]
    check_cols = [c for c in columns if c.type in ("uscc", "unit_code", "party_id", "ric", "org_code", "reg_no")
                  and c.name not in feed.key]
    text_cols = [c for c in columns if c.type == "text" and c.name not in feed.key]
    kinds = []
    if feed.format != "xlsx":
        kinds += ["parse_error", "encoding_error"]
    kinds += ["missing_required"]
    if feed.feed_id in INVALID_KEY:
        kinds.append("invalid_key")
    if invalid_cols:
        kinds.append("invalid_value")
    if optional:
        kinds.append("optional_invalid")
    if check_cols:
        kinds.append("check_digit")
    rates = np.array([float(dcfg[k]) for k in kinds])
    u = rng.random(m)
    edges = np.cumsum(rates)
    which = np.searchsorted(edges, u, side="right")
    for i in np.nonzero(which < len(kinds))[0].tolist():
        kind = kinds[which[i]]
        row_ok = _apply_defect(kind, feed, cols, key, i, rng, req_nonkey, invalid_cols, optional, check_cols, text_cols)
        if row_ok:
            defect[i] = kind
    return defect


def _apply_defect(kind: str, feed: FeedSchema, cols: dict, key: list, i: int, rng: np.random.Generator,  # noqa: C901
                  req_nonkey: list, invalid_cols: list, optional: list, check_cols: list, text_cols: list) -> bool:
    if kind == "parse_error":
        return True  # the writer breaks the record's syntax
    if kind == "encoding_error":
        present = [c for c in text_cols if isinstance(cols[c.name][i], str) and cols[c.name][i].strip()]
        if not present:
            return False
        c = present[0]
        cols[c.name][i] = D.with_sentinel(cols[c.name][i])
        return True
    if kind == "missing_required":
        c = req_nonkey[int(rng.integers(0, len(req_nonkey)))]
        cols[c.name][i] = ("", "  ", None)[int(rng.integers(0, 3))] if feed.format == "jsonl" else ("", "  ")[i % 2]
        return True
    if kind == "invalid_key":
        candidates = [c for c in INVALID_KEY[feed.feed_id]
                      if feed.column(c).type not in IDENTIFIER_TYPES
                      or len(D.normalise_key_part(cols[c][i], feed.column(c).type) or "") in _CHECKED_ID_LENGTHS]
        if not candidates:
            return False
        col = candidates[int(rng.integers(0, len(candidates)))]
        v = cols[col][i]
        if feed.column(col).type in IDENTIFIER_TYPES:
            compact = D.normalise_key_part(v, feed.column(col).type)
            # A truncated USCC has no identifier's shape, except where an old tax id (15-20 characters)
            # is allowed: there it would be a valid key, so only the check character is broken.
            truncate = i % 3 == 0 and len(compact) == 18 and feed.column(col).type != "taxpayer_id"
            bad = compact[:-1] if truncate else D.break_check_char(compact)
        elif col in ("report_year", "评价年度"):
            bad = str(v) + "2" if i % 2 else str(v)[2:]
        else:
            bad = str(v)[:4] + "-13"
        cols[col][i] = bad
        parts = key[i].split("|")
        pos = feed.key.index(col)
        parts[pos] = D.normalise_key_part(bad, feed.column(col).type) or ""
        key[i] = "|".join(parts)
        return True
    if kind == "invalid_value":
        c = invalid_cols[int(rng.integers(0, len(invalid_cols)))]
        cols[c.name][i] = D.invalid_for(c, rng)
        return True
    if kind == "optional_invalid":
        present = [c for c in optional if cols[c.name][i] not in (None, "")]
        if not present:
            return False
        c = present[int(rng.integers(0, len(present)))]
        bad = D.optional_invalid_for(c, cols[c.name][i], rng)
        if bad is None:
            return False
        cols[c.name][i] = bad
        return True
    if kind == "check_digit":
        present = [c for c in check_cols if isinstance(cols[c.name][i], str) and len(cols[c.name][i].strip()) >= 9]
        if not present:
            return False
        c = present[0]
        compact = cols[c.name][i].strip().upper().replace("-", "")
        if not compact.isascii():
            return False
        cols[c.name][i] = D.break_check_char(compact)
        return True
    return False


def _parse_day(v: object) -> int | None:
    from .timeline import parse_any_date

    return parse_any_date(v) if isinstance(v, str) and v else None


def _parse_ts(v: object) -> int | None:
    if not isinstance(v, str) or len(v) < 16:
        return None
    try:
        text = v[:19].replace("T", " ").replace("/", "-")
        if len(text) == 16:
            text += ":00"
        return int((np.datetime64(text.replace(" ", "T")) - np.datetime64("1970-01-01T00:00:00")).astype(int))
    except ValueError:
        return None


def _to_float(v: object) -> float | None:
    if isinstance(v, bool) or v is None:
        return None
    if isinstance(v, int | float):
        return float(v)
    try:
        return float(str(v).replace(",", ""))
    except ValueError:
        return None
