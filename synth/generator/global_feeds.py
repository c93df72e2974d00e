"""Feeds that do not scale with the enterprise chunks: the matter catalogue and personnel.

Both are `full` deliveries each batch. A department's stored value does not change from one
month to the next, so value variants and flagged values are decided once per record version
and repeated in every snapshot; syntax and quarantine defects are drawn per delivery. A
record identical to the version already held is a duplicate (standard §2).
"""

from __future__ import annotations

import copy

import numpy as np

from . import vocab
from .population import person_names, rics
from .shaping import QUARANTINE, Records, ShapeContext, Shaped, _defects, _variants, shape
from .specs import FEEDS
from .timeline import DAY, fmt_timestamp


def _matter_items(target: int) -> list[dict]:
    """Catalogue items: the vocabulary's items first, then generic sub-items of each main item."""
    items: list[dict] = []
    extras: list[dict] = []
    for dept, mains in vocab.MATTERS.items():
        dept_no = vocab.DEPARTMENTS[dept][0]
        for k, (main, subs) in enumerate(mains, start=1):
            main_code = f"41{dept_no}{k:04d}"
            for j, sub in enumerate(subs, start=1):
                items.append({"matter_code": f"{main_code}{j:03d}", "main_item_code": main_code,
                              "main_item_name": main, "sub_item_name": sub, "dept": dept})
            topic = main.removeprefix("对").removesuffix("的监督检查").removesuffix("的监督抽查").removesuffix("的抽查")
            for j, form in enumerate(("对{t}的现场检查", "对{t}的书面检查", "对{t}(网络)的监测检查"), start=len(subs) + 1):
                extras.append({"matter_code": f"{main_code}{j:03d}", "main_item_code": main_code,
                               "main_item_name": main, "sub_item_name": form.format(t=topic), "dept": dept})
    del target  # the vocabulary items come first; callers take as many as they need
    return items + extras


def matter_codes(cfg: dict) -> dict[str, np.ndarray]:
    """dept -> matter codes of the initial catalogue (what inspections and penalties cite)."""
    n = int(cfg["feeds"]["matter_catalog"]["items"])
    out: dict[str, list[str]] = {}
    for item in _matter_items(n)[:n]:
        out.setdefault(item["dept"], []).append(item["matter_code"])
    return {k: np.array(v) for k, v in out.items()}


def _snapshot_records(feed_id: str, versions: list[list[dict]], ctx: ShapeContext, key_col: str) -> Records:
    """One snapshot per batch: every live record with its latest version as of that batch."""
    feed = FEEDS[feed_id]
    cols: dict[str, list] = {c: [] for c in feed.column_names}
    ts, keys = [], []
    for b, snapshot in enumerate(versions):
        for row in snapshot:
            for c in feed.column_names:
                cols[c].append(row[c])
            ts.append(int(ctx.cutoffs[b]) - 3600)
            keys.append(row[key_col])
    n = len(keys)
    return Records(feed, cols, np.array(ts, dtype=np.int64), keys, [None] * n, ["none"] * n)


def _stable_values(feed_id: str, table: list[dict], cfg: dict, rng: np.random.Generator) -> None:
    """Variants and flagged (optional/check) values, decided once per record version."""
    feed = FEEDS[feed_id]
    if not table:
        return
    cols = {c: [row[c] for row in table] for c in feed.column_names}
    tags: dict = {}
    _variants(feed, cols, {}, len(table), cfg["variants"], rng, tags)
    only = {k: 0.0 for k in cfg["defects"]}
    only.update(optional_invalid=cfg["defects"]["optional_invalid"], check_digit=cfg["defects"]["check_digit"])
    defects = _defects(feed, cols, [""] * len(table), len(table), only, rng, tags)
    for i, row in enumerate(table):
        for c in feed.column_names:
            row[c] = cols[c][i]
        row["_defect"] = defects[i]
        row["_variants"] = ",".join(tags[i]) if i in tags else None


def _shape_full(feed_id: str, versions: list[list[dict]], key_col: str, ctx: ShapeContext,
                rng: np.random.Generator) -> Shaped:
    per_batch_cfg = copy.deepcopy(ctx.cfg)
    per_batch_cfg["variants"] = {k: 0.0 for k in ctx.cfg["variants"]}
    for k in ("optional_invalid", "check_digit", "duplicate_across"):
        per_batch_cfg["defects"][k] = 0.0
    rec = _snapshot_records(feed_id, versions, ctx, key_col)
    shaped = shape(rec, ShapeContext(per_batch_cfg, ctx.batches, ctx.cutoffs, ctx.status), rng)
    # Carry the per-version flags, then mark rows identical to the version already held.
    names = FEEDS[feed_id].column_names
    lookup = {}
    for snap in versions:
        for row in snap:
            lookup[tuple(row[c] for c in names)] = (row.get("_defect"), row.get("_variants"))
    held: dict[str, tuple] = {}
    for i, row in enumerate(shaped.rows):
        content = tuple(row)
        stable_defect, stable_variants = lookup.get(content, (None, None))
        if shaped.defect[i] is None and stable_defect:
            shaped.defect[i] = stable_defect
        if shaped.variants[i] is None:
            shaped.variants[i] = stable_variants
        if shaped.defect[i] in QUARANTINE or shaped.defect[i] == "duplicate":
            continue
        key = shaped.key[i]
        if held.get(key) == content:
            shaped.defect[i] = "duplicate"
        else:
            held[key] = content
    return shaped


def matter_catalog(cfg: dict, ctx: ShapeContext, seed: int, history_ts: int) -> Shaped:
    rng = np.random.default_rng([seed, 7, 1])
    fcfg = cfg["feeds"]["matter_catalog"]
    n0 = int(fcfg["items"])
    pool = _matter_items(n0 + ctx.batches * int(fcfg["added_per_batch"]))
    levels = ("省级", "市级", "县级")
    methods = ("双随机", "重点监管", "信用监管", "专项检查")
    objects = ("法人", "法人;其他组织", "法人;自然人", "法人;其他组织;自然人")

    def make(item: dict, ts: int) -> dict:
        k = rng.integers(1, 4)
        method = ";".join(["双随机"] + [m for m in methods[1:] if rng.random() < 0.4][: int(k)])
        return {"matter_code": item["matter_code"], "main_item_code": item["main_item_code"],
                "main_item_name": item["main_item_name"], "sub_item_name": item["sub_item_name"],
                "department_code": item["dept"], "object_type": objects[int(rng.integers(0, 4))],
                "legal_basis": vocab.LEGAL_BASIS[item["dept"]], "level": levels[int(rng.integers(0, 3))],
                "method": method, "updated_at": fmt_timestamp(np.array([ts]), "std")[0]}

    start = history_ts - 365 * DAY
    current = {}
    for item in pool[:n0]:
        current[item["matter_code"]] = make(item, start + int(rng.integers(0, 365 * DAY)))
    _stable_values("matter_catalog", list(current.values()), cfg, rng)
    versions = []
    next_new = n0
    for b in range(ctx.batches):
        if b > 0:
            lo = int(ctx.cutoffs[b - 1])
            changed = []
            for _ in range(int(fcfg["added_per_batch"])):
                if next_new < len(pool):
                    row = make(pool[next_new], lo + int(rng.integers(DAY, 20 * DAY)))
                    current[row["matter_code"]] = row
                    changed.append(row)
                    next_new += 1
            codes = list(current)
            for _ in range(int(fcfg["changed_per_batch"])):
                code = codes[int(rng.integers(0, len(codes)))]
                row = dict(current[code])
                row["level"] = levels[(levels.index(row["level"]) + 1) % 3] if row["level"] in levels else "县级"
                row["updated_at"] = fmt_timestamp(np.array([lo + int(rng.integers(DAY, 25 * DAY))]), "std")[0]
                current[code] = row
                changed.append(row)
            _stable_values("matter_catalog", changed, cfg, rng)
        versions.append([dict(r) for r in current.values()])
    return _shape_full("matter_catalog", versions, "matter_code", ctx, rng)


def personnel(cfg: dict, ctx: ShapeContext, seed: int, enterprises: int, history_ts: int) -> tuple[Shaped, dict]:
    rng = np.random.default_rng([seed, 7, 2])
    fcfg = cfg["feeds"]["personnel"]
    n = int(fcfg["base"] + fcfg["per_enterprise"] * enterprises)
    geo = vocab.geography()
    counter: dict[tuple[str, str], int] = {}

    def people(count: int, lo: int, hi: int) -> list[dict]:
        names = person_names(rng, count)
        ids = rics(rng, count, 1962, 1999)
        depts = rng.choice(np.array(vocab.ENFORCING), size=count,
                           p=np.array(vocab.ENFORCING_WEIGHTS) / sum(vocab.ENFORCING_WEIGHTS))
        county = rng.choice(len(geo.county_codes), size=count, p=geo.county_weights)
        at_city = rng.random(count) < 0.3
        ts = lo + (rng.random(count) * (hi - lo)).astype(np.int64)
        stamps = fmt_timestamp(ts, "slash")
        out = []
        for k in range(count):
            dept = str(depts[k])
            region = str(geo.county_pref[county[k]]) if at_city[k] else str(geo.county_codes[county[k]])
            place = geo.pref_names.get(region, geo.county_names[county[k]]) if at_city[k] else \
                _unit_place(geo, county[k])
            seq = counter.get((region, dept), 0) + 1
            counter[(region, dept)] = seq
            fields = vocab.FIELDS[dept]
            chosen = list(dict.fromkeys(fields[int(rng.integers(0, len(fields)))] for _ in range(int(rng.integers(1, 4)))))
            out.append({"姓名": names[k], "身份证号": ids[k] if rng.random() < 0.97 else "",
                        "执法证号": f"{region}{vocab.DEPARTMENTS[dept][0]}{seq:06d}", "部门编码": dept,
                        "部门名称": place + vocab.DEPARTMENTS[dept][1], "行政区划": region,
                        "执法领域": "、".join(chosen), "状态": "在岗", "更新时间": stamps[k]})
        return out

    current = {p["执法证号"]: p for p in people(n, history_ts - 3 * 365 * DAY, history_ts)}
    _stable_values("personnel", list(current.values()), cfg, rng)
    pool: dict[tuple[str, str], list[str]] = {}
    for p in current.values():
        pool.setdefault((p["部门编码"], p["行政区划"][:4]), []).append(p["执法证号"])
        pool.setdefault((p["部门编码"], ""), []).append(p["执法证号"])
    versions = []
    for b in range(ctx.batches):
        if b > 0:
            lo, hi = int(ctx.cutoffs[b - 1]), int(ctx.cutoffs[b])
            changed = []
            codes = list(current)
            for _ in range(max(1, int(len(codes) * fcfg["changed_per_batch"]))):
                code = codes[int(rng.integers(0, len(codes)))]
                row = dict(current[code])
                row["状态"] = ("离岗", "调离")[int(rng.integers(0, 2))]
                row["更新时间"] = fmt_timestamp(np.array([lo + int(rng.integers(DAY, 25 * DAY))]), "slash")[0]
                current[code] = row
                changed.append(row)
            hires = people(max(1, int(len(codes) * fcfg["changed_per_batch"] / 2)), lo + DAY, hi - DAY)
            for row in hires:
                current[row["执法证号"]] = row
            changed += hires
            _stable_values("personnel", changed, cfg, rng)
        versions.append([dict(r) for r in current.values()])
    shaped = _shape_full("personnel", versions, "执法证号", ctx, rng)
    return shaped, {k: np.array(v) for k, v in pool.items()}


def _unit_place(geo: vocab.Geography, county_index: int) -> str:
    name = str(geo.county_names[county_index])
    if name.endswith("区"):
        return geo.pref_names.get(str(geo.county_pref[county_index]), "") + name
    return name
