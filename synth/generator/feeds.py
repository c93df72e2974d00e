"""Per-feed record generators: what each department records about the population.

Each `gen_<feed>` returns clean `Records` for one chunk of enterprises over the whole
timeline (history + batches): every version of every business record, written the way
that department's system writes it (its "house" formats, taken from the samples). Hidden
risk drives the observable signals: penalties, abnormal listings, complaints, tax credit
grades, arrears, court records and inspection results.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cache

import numpy as np
import pandas as pd

from . import vocab
from .population import Population, person_names, rics
from .shaping import Records
from .specs import FEEDS
from .timeline import DAY, fmt_date, fmt_timestamp

YEAR = 365.25 * DAY
PREF_LETTER = dict(zip(
    ["410100", "410200", "410300", "410400", "410500", "410600", "410700", "410800", "410900", "411000",
     "411100", "411200", "411400", "411600", "411700", "411300", "411500", "419001"], "ABCDEFGHJKLMNPQRSU", strict=True))


@dataclass
class FeedContext:
    cfg: dict
    chunk: int
    n_chunks: int
    history_ts: int            # low-volume feeds start here
    first_cutoff: int          # end of the first batch (its history ends here)
    end_ts: int                # last batch cutoff
    cert_pool: dict            # (dept, pref4) -> array of certificate numbers
    matters: dict              # dept -> array of matter codes
    extras: dict = field(default_factory=dict)

    def start_months_back(self, months: int) -> int:
        return self.first_cutoff - int(months * 30.44 * DAY)


def problem_probability(risk: np.ndarray, cfg: dict) -> np.ndarray:
    return np.interp(risk, cfg["risk"]["problem_knots_x"], cfg["risk"]["problem_knots_y"])


@cache
def _beta_mean_exp(a: float, b: float, k: float) -> float:
    """E[exp(k R)] for R ~ Beta(a, b): renormalises risk weights so configured means hold."""
    x = (np.arange(20_000) + 0.5) / 20_000
    logpdf = (a - 1) * np.log(x) + (b - 1) * np.log1p(-x) - (math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b))
    return float(np.mean(np.exp(logpdf + k * x)))


def risk_weight(pop: Population, cfg: dict, k: float) -> np.ndarray:
    a, b = cfg["risk"]["beta"]
    return np.exp(k * pop.hidden_risk) / _beta_mean_exp(float(a), float(b), float(k))


def alive_window(pop: Population, start: int, end: int) -> tuple[np.ndarray, np.ndarray]:
    """Per enterprise, the part of [start, end] in which it exists and operates."""
    lo = np.maximum(pop.establish_ts, start)
    stop = np.where(pop.status_ts > 0, np.minimum(pop.status_ts, end), end)
    return lo, np.maximum(stop, lo)


def poisson_events(rng: np.random.Generator, rate_per_year: np.ndarray, lo: np.ndarray,
                   hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Events per enterprise at `rate_per_year` within [lo, hi]: (enterprise index, time)."""
    span = np.maximum(hi - lo, 0).astype(np.float64)
    counts = rng.poisson(np.maximum(rate_per_year, 0) * span / YEAR)
    ent = np.repeat(np.arange(len(lo)), counts)
    ts = lo[ent] + (rng.random(len(ent)) * span[ent]).astype(np.int64)
    return ent, ts


def seq_in_group(groups: list | np.ndarray, ctx: FeedContext, order: np.ndarray | None = None) -> np.ndarray:
    """1-based sequence numbers unique across chunks: rank within group * chunks + chunk + 1."""
    s = pd.Series(np.asarray(groups, dtype=object))
    if order is not None:
        s = s.iloc[order]
    rank = s.groupby(s.values, sort=False).cumcount().to_numpy()
    out = np.empty(len(rank), dtype=np.int64)
    if order is not None:
        out[order] = rank
    else:
        out[:] = rank
    return out * ctx.n_chunks + ctx.chunk + 1


def years_of(ts: np.ndarray) -> np.ndarray:
    return np.asarray(ts, dtype="int64").astype("datetime64[s]").astype("datetime64[Y]").astype(int) + 1970


def month_str(ts: np.ndarray) -> list[str]:
    return np.datetime_as_string(np.asarray(ts, dtype="int64").astype("datetime64[s]").astype("datetime64[M]")).tolist()


def authority(pop: Population, i: int, suffix: str = "市场监督管理局") -> str:
    geo = vocab.geography()
    city = geo.pref_names.get(pop.pref_code[i], "济源市")
    county = _county_name(pop.region_code[i])
    if pop.pref_code[i] == "419001":
        return city + suffix
    return (city + county if county.endswith("区") else county) + suffix


@cache
def _county_lookup() -> dict[str, str]:
    geo = vocab.geography()
    return dict(zip(geo.county_codes.tolist(), geo.county_names.tolist(), strict=True))


def _county_name(code: str) -> str:
    return _county_lookup().get(code, "")


def _choice(rng: np.random.Generator, options: tuple | list, size: int, p: list | None = None) -> list:
    idx = rng.choice(len(options), size=size, p=None if p is None else np.array(p) / np.sum(p))
    return [options[i] for i in idx.tolist()]


# --- samr_enterprise -----------------------------------------------------------


def gen_samr_enterprise(pop: Population, ctx: FeedContext, rng: np.random.Generator) -> Records:
    cfg = ctx.cfg["population"]
    n = len(pop)
    lo, hi = alive_window(pop, 0, ctx.end_ts)
    ent_u, ts_u = poisson_events(rng, np.full(n, float(cfg["updates_per_year"])), lo + 30 * DAY, hi)
    kinds_u = rng.integers(0, 3, size=len(ent_u))
    ent = np.concatenate([np.arange(n), ent_u])
    ts = np.concatenate([pop.establish_ts, ts_u])
    kind = np.concatenate([np.full(n, -1), kinds_u])
    final = (pop.status_final != "存续") & (pop.status_ts > 0) & (pop.status_ts <= ctx.end_ts)
    fi = np.nonzero(final)[0]
    ent = np.concatenate([ent, fi])
    ts = np.concatenate([ts, pop.status_ts[fi]])
    kind = np.concatenate([kind, np.full(len(fi), 9)])
    order = np.lexsort((ts, ent))
    ent, ts, kind = ent[order], ts[order], kind[order]
    streets = rng.choice(np.array(vocab.STREETS), size=len(ent))
    numbers = rng.integers(1, 400, size=len(ent))
    estab = fmt_date(pop.establish_ts, "dash", seconds=True)
    updated = fmt_timestamp(ts, "std")
    cols: dict[str, list] = {c: [] for c in FEEDS["samr_enterprise"].column_names}
    state_addr: dict[int, str] = {}
    state_cap: dict[int, str] = {}
    state_status: dict[int, str] = {}
    for r in range(len(ent)):
        i = int(ent[r])
        k = int(kind[r])
        if k == 0:
            state_addr[i] = pop.address[i].split("区")[0] + "区" + f"{streets[r]}{numbers[r]}号" \
                if "区" in pop.address[i] else pop.address[i][:9] + f"{streets[r]}{numbers[r]}号"
        elif k == 1 and pop.reg_capital[i]:
            state_cap[i] = str(int(float(pop.reg_capital[i]) * (2 if numbers[r] % 2 else 1.5)))
        elif k == 9:
            state_status[i] = pop.status_final[i]
        old = bool(pop.old_ids_delivered[i])
        cols["uscc"].append(pop.uscc[i])
        cols["reg_no"].append(pop.reg_no[i] if old else "")
        cols["org_code"].append(pop.org_code[i] if old else "")
        cols["ent_name"].append(pop.ent_name[i])
        cols["ent_type"].append(pop.ent_type[i])
        cols["legal_rep_name"].append(pop.legal_rep_name[i])
        cols["legal_rep_id_no"].append(pop.legal_rep_ric[i] if pop.ric_delivered[i] else "")
        cols["reg_capital"].append(state_cap.get(i, pop.reg_capital[i]))
        cols["establish_date"].append(estab[i])
        cols["status"].append(state_status.get(i, "存续"))
        cols["region_code"].append(pop.region_code[i])
        cols["industry_code"].append(pop.industry_code[i])
        cols["address"].append(state_addr.get(i, pop.address[i]))
        cols["business_scope"].append(pop.business_scope[i])
        cols["key_field"].append(pop.key_field[i])
        cols["updated_at"].append(updated[r])
    keys = [pop.uscc[i] for i in ent.tolist()]
    return Records(FEEDS["samr_enterprise"], cols, ts, keys, list(keys), ["uscc"] * len(ent),
                   aux={"industry_class": [pop.industry_class[i] for i in ent.tolist()]})


# --- samr_annual_report (+ non-filers for the abnormal list) -------------------------


def annual_reports(pop: Population, ctx: FeedContext, rng: np.random.Generator) -> tuple[Records, tuple]:
    fcfg = ctx.cfg["feeds"]["samr_annual_report"]
    end_year = int(years_of(np.array([ctx.end_ts]))[0])
    rows_ent, rows_year, rows_ts, rows_ver = [], [], [], []
    nonfilers_ent, nonfilers_year = [], []
    for year in range(int(fcfg["first_report_year"]), end_year):
        y_end = _ts(year, 12, 31)
        window_open, window_close = _ts(year + 1, 1, 1), _ts(year + 1, 6, 30)
        eligible = (pop.establish_ts < y_end) & ((pop.status_ts == 0) | (pop.status_ts > window_close))
        nonfile = rng.random(len(pop)) < fcfg["nonfile_base"] + fcfg["nonfile_risk"] * pop.hidden_risk
        late = rng.random(len(pop)) < 0.05
        frac = rng.beta(2.0, 1.2, size=len(pop))
        sub = window_open + (frac * (window_close - window_open)).astype(np.int64)
        sub = np.where(late, window_close + (rng.random(len(pop)) * 150 * DAY).astype(np.int64), sub)
        filed = eligible & ~nonfile & (sub <= ctx.end_ts)
        idx = np.nonzero(filed)[0]
        rows_ent.append(idx)
        rows_year.append(np.full(len(idx), year))
        rows_ts.append(sub[idx])
        rows_ver.append(np.zeros(len(idx), dtype=np.int64))
        corr = idx[rng.random(len(idx)) < fcfg["correction"]]
        rows_ent.append(corr)
        rows_year.append(np.full(len(corr), year))
        rows_ts.append(sub[corr] + rng.integers(5 * DAY, 60 * DAY, size=len(corr)))
        rows_ver.append(np.ones(len(corr), dtype=np.int64))
        not_filed = np.nonzero(eligible & (nonfile | late) & (window_close < ctx.end_ts))[0]
        nonfilers_ent.append(not_filed)
        nonfilers_year.append(np.full(len(not_filed), year))
    ent = np.concatenate(rows_ent)
    year_arr = np.concatenate(rows_year)
    ts = np.concatenate(rows_ts)
    ver = np.concatenate(rows_ver)
    m = len(ent)
    emp = np.maximum(1, (pop.employees[ent] * rng.uniform(0.8, 1.2, size=m)).astype(np.int64))
    insured = np.minimum(emp, np.maximum(1, (emp * rng.uniform(0.6, 1.0, size=m)).astype(np.int64)))
    revenue = np.round(emp * rng.lognormal(3.5, 0.8, size=m), 2)
    revenue = np.where(ver == 1, np.round(revenue * 1.07, 2), revenue)
    submitted_ts = np.where(ver == 1, ts - rng.integers(5 * DAY, 60 * DAY, size=m), ts)
    updated_ts = ts + rng.integers(0, 1800, size=m)
    public = rng.random(m) < 0.9
    feed = FEEDS["samr_annual_report"]
    cols = {
        "uscc": [pop.uscc[i] for i in ent.tolist()],
        "report_year": [str(y) for y in year_arr.tolist()],
        "submitted_at": fmt_timestamp(submitted_ts, "std"),
        "employees": [str(x) for x in emp.tolist()],
        "insured_employees": [str(x) for x in insured.tolist()],
        "total_revenue": [f"{x:.2f}".rstrip("0").rstrip(".") if rng_x % 5 else f"{x:.2f}"
                          for x, rng_x in zip(revenue.tolist(), range(m), strict=True)],
        "is_public": ["是" if p else "否" for p in public.tolist()],
        "updated_at": fmt_timestamp(updated_ts, "std"),
    }
    keys = [f"{u}|{y}" for u, y in zip(cols["uscc"], cols["report_year"], strict=True)]
    rec = Records(feed, cols, updated_ts, keys, list(cols["uscc"]), ["uscc"] * m)
    return rec, (np.concatenate(nonfilers_ent), np.concatenate(nonfilers_year))


def _ts(year: int, month: int, day: int, hour: int = 0) -> int:
    return int((np.datetime64(f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:00:00") -
                np.datetime64("1970-01-01T00:00:00")).astype(int))


# --- samr_abnormal_list ----------------------------------------------------------------


def gen_samr_abnormal_list(pop: Population, ctx: FeedContext, rng: np.random.Generator,
                           nonfilers: tuple) -> Records:
    fcfg = ctx.cfg["feeds"]["samr_abnormal_list"]
    nf_ent, nf_year = nonfilers
    take = rng.random(len(nf_ent)) < 0.9
    nf_ent, nf_year = nf_ent[take], nf_year[take]
    listed_01 = np.array([_ts(int(y) + 1, 7, 1) for y in nf_year.tolist()], dtype=np.int64) \
        + rng.integers(0, 60 * DAY, size=len(nf_ent)) if len(nf_ent) else np.zeros(0, dtype=np.int64)
    lo, hi = alive_window(pop, ctx.history_ts, ctx.end_ts)
    rate = fcfg["unreachable_per_year"] * risk_weight(pop, ctx.cfg, fcfg["risk_weight"])
    ent_04, ts_04 = poisson_events(rng, rate, lo, hi)
    reason_04 = np.where(rng.random(len(ent_04)) < fcfg["other_reason"],
                         np.where(rng.random(len(ent_04)) < 0.8, "02", "03"), "04")
    ent = np.concatenate([nf_ent, ent_04]).astype(np.int64)
    listed = np.concatenate([listed_01, ts_04]).astype(np.int64)
    reason = np.concatenate([np.full(len(nf_ent), "01"), reason_04])
    keep = (listed >= ctx.history_ts) & (listed <= ctx.end_ts)
    ent, listed, reason = ent[keep], listed[keep], reason[keep]
    listed = (listed // DAY) * DAY + rng.integers(8 * 3600, 18 * 3600, size=len(ent))
    m = len(ent)
    regions = [pop.region_code[i] for i in ent.tolist()]
    years = years_of(listed)
    seq = seq_in_group([f"{r}{y}" for r, y in zip(regions, years.tolist(), strict=True)], ctx,
                       order=np.argsort(listed, kind="stable"))
    record_id = [f"YC{r}{y}{s:06d}" for r, y, s in zip(regions, years.tolist(), seq.tolist(), strict=True)]
    removed = rng.random(m) < fcfg["removed"] * (1.3 - pop.hidden_risk[ent])
    removed_ts = listed + rng.integers(20 * DAY, 300 * DAY, size=m)
    has_name = rng.random(m) < 0.9
    listed_date = fmt_date(listed, "dash", seconds=True)
    removed_date = fmt_date(removed_ts, "dash", seconds=True)
    upd1 = fmt_timestamp(listed, "std")
    upd2 = fmt_timestamp(removed_ts + rng.integers(0, 3600, size=m), "std")
    feed = FEEDS["samr_abnormal_list"]
    cols: dict[str, list] = {c: [] for c in feed.column_names}
    ts_out, keys, ents = [], [], []
    for r in range(m):
        i = int(ent[r])
        versions = [(0, int(listed[r]))]
        if removed[r]:
            versions.append((1, int(removed_ts[r])))
        for v, t in versions:
            cols["record_id"].append(record_id[r])
            cols["uscc"].append(pop.uscc[i])
            cols["ent_name"].append(pop.ent_name[i] if has_name[r] else "")
            cols["reason"].append(str(reason[r]))
            cols["listed_date"].append(listed_date[r])
            cols["listed_authority"].append(authority(pop, i))
            cols["removed_date"].append(removed_date[r] if v else "")
            cols["removed_reason"].append(vocab.ABNORMAL_REMOVED[str(reason[r])] if v else "")
            cols["updated_at"].append(upd2[r] if v else upd1[r])
            ts_out.append(t)
            keys.append(record_id[r])
            ents.append(pop.uscc[i])
    return Records(feed, cols, np.array(ts_out, dtype=np.int64), keys, ents, ["uscc"] * len(keys))


# --- samr_penalty ---------------------------------------------------------------------


def gen_samr_penalty(pop: Population, ctx: FeedContext, rng: np.random.Generator) -> Records:
    fcfg = ctx.cfg["feeds"]["samr_penalty"]
    lo, hi = alive_window(pop, ctx.history_ts, ctx.end_ts)
    ent, dec = poisson_events(rng, fcfg["per_year"] * risk_weight(pop, ctx.cfg, fcfg["risk_weight"]), lo, hi)
    m = len(ent)
    risk = pop.hidden_risk[ent]
    serious = rng.random(m) < fcfg["serious_base"] + fcfg["serious_risk"] * risk
    severity = np.where(serious, "3", np.where(rng.random(m) < 0.3, "2", "1"))
    viol_i = rng.integers(0, len(vocab.VIOLATIONS), size=m)
    serious_v = [i for i, v in enumerate(vocab.VIOLATIONS) if v[0] in vocab.SERIOUS_VIOLATIONS]
    viol_i = np.where(serious, np.array(serious_v)[rng.integers(0, len(serious_v), size=m)], viol_i)
    years = years_of(dec)
    prefix = [vocab.CITY_ABBR.get(pop.pref_code[i], "豫") + (_county_name(pop.region_code[i])[:1] or "济")
              for i in ent.tolist()]
    seq = seq_in_group([f"{p}{y}" for p, y in zip(prefix, years.tolist(), strict=True)], ctx,
                       order=np.argsort(dec, kind="stable"))
    dec_date = fmt_date(dec, "cn", seconds=True)
    upd_ts = dec + rng.integers(1 * DAY, 10 * DAY, size=m)
    revoked = rng.random(m) < fcfg["revoked"]
    rev_ts = upd_ts + rng.integers(30 * DAY, 200 * DAY, size=m)
    upd1 = fmt_timestamp(upd_ts, "std")
    upd2 = fmt_timestamp(rev_ts, "std")
    fines = np.array([500, 1000, 2000, 3000, 5000, 10000, 20000, 30000, 50000, 80000, 100000, 200000])
    fine = fines[np.minimum(len(fines) - 1, rng.integers(0, 8, size=m) + (severity.astype(int) - 1) * 2)]
    conf = np.round(rng.lognormal(9.5, 1.0, size=m), 2)
    matter_codes = ctx.matters.get("SCJG", np.array([""]))
    feed = FEEDS["samr_penalty"]
    cols: dict[str, list] = {c: [] for c in feed.column_names}
    ts_out, keys, ents = [], [], []
    u = rng.random((m, 4))
    for r in range(m):
        i = int(ent[r])
        sev = str(severity[r])
        if sev == "1":
            types = (["警告"], ["罚款"], ["警告", "罚款"], ["通报批评"])[int(u[r, 0] * 4)]
        elif sev == "2":
            types = (["罚款", "没收违法所得"], ["没收非法财物", "罚款"], ["暂扣许可证件", "罚款"])[int(u[r, 0] * 3)]
        else:
            types = (["罚款", "责令停产停业"], ["吊销许可证件", "罚款"], ["罚款", "没收违法所得", "限制从业"])[int(u[r, 0] * 3)]
        decision_no = f"{prefix[r]}市监罚〔{years[r]}〕{seq[r]}号"
        viol, basis, main = vocab.VIOLATIONS[int(viol_i[r])]
        matches = [c for c in matter_codes.tolist() if c.startswith(main)]
        matter = (matches[int(u[r, 1] * len(matches))] if matches else "") if u[r, 2] < 0.5 else ""
        versions = [(0, int(upd_ts[r]))] + ([(1, int(rev_ts[r]))] if revoked[r] else [])
        for v, t in versions:
            cols["decision_no"].append(decision_no)
            cols["uscc"].append(pop.uscc[i])
            cols["ent_name"].append(pop.ent_name[i])
            cols["violation_type"].append(viol)
            cols["legal_basis"].append(basis if u[r, 3] < 0.87 else "")
            cols["penalty_types"].append(";".join(types))
            cols["fine_amount"].append(str(int(fine[r])) if "罚款" in types else "")
            cols["confiscated_amount"].append(f"{conf[r]:.2f}" if "没收违法所得" in types else "")
            cols["severity"].append(sev)
            cols["decision_date"].append(dec_date[r])
            cols["authority"].append(authority(pop, i))
            cols["authority_region_code"].append(pop.region_code[i] if u[r, 1] < 0.88 else "")
            cols["matter_code"].append(matter)
            cols["publicity_status"].append(("1" if u[r, 2] < 0.8 else "2") if v else ("0" if u[r, 3] < 0.2 else ""))
            cols["updated_at"].append(upd2[r] if v else upd1[r])
            ts_out.append(t)
            keys.append(decision_no)
            ents.append(pop.uscc[i])
    return Records(feed, cols, np.array(ts_out, dtype=np.int64), keys, ents, ["uscc"] * len(keys))


# --- samr_inspection ----------------------------------------------------------------------

TASK_TYPES = ("双随机", "重点", "专项", "投诉举报")
TASK_LETTER = {"双随机": "S", "重点": "Z", "专项": "X", "投诉举报": "T"}


def inspection_results(rng: np.random.Generator, p_problem: np.ndarray) -> np.ndarray:
    problem = rng.random(len(p_problem)) < p_problem
    bad = np.array(["2", "3", "5", "6"])[rng.choice(4, size=len(p_problem), p=[0.6, 0.25, 0.05, 0.1])]
    good = np.where(rng.random(len(p_problem)) < 0.85, "1", "4")
    return np.where(problem, bad, good)


def gen_samr_inspection(pop: Population, ctx: FeedContext, rng: np.random.Generator) -> Records:
    fcfg = ctx.cfg["feeds"]["samr_inspection"]
    lo, hi = alive_window(pop, ctx.history_ts, ctx.end_ts)
    ent, day = poisson_events(rng, fcfg["per_year"] * risk_weight(pop, ctx.cfg, fcfg["risk_weight"]), lo, hi)
    m = len(ent)
    risk = pop.hidden_risk[ent]
    ttype = np.where(rng.random(m) < 0.05 + 0.25 * risk, "重点",
                     np.array(TASK_TYPES)[rng.choice(4, size=m, p=[0.86, 0.0, 0.07, 0.07])])
    dept = np.where(rng.random(m) < fcfg["other_dept"],
                    np.array(vocab.ENFORCING[1:])[rng.integers(0, len(vocab.ENFORCING) - 1, size=m)], "SCJG")
    result = inspection_results(rng, problem_probability(risk, ctx.cfg))
    months = month_str(day)
    seq = seq_in_group(months, ctx, order=np.argsort(day, kind="stable"))
    insp_date = fmt_date(day, "slash", seconds=True)
    rect_ts = day + rng.integers(10 * DAY, 40 * DAY, size=m)
    rect_date = fmt_date(rect_ts, "slash", seconds=True)
    upd_ts = day + rng.integers(1 * DAY, 5 * DAY, size=m)
    updated = fmt_timestamp(upd_ts, "std")
    has_name = rng.random(m) < 0.83
    feed = FEEDS["samr_inspection"]
    cols: dict[str, list] = {c: [] for c in feed.column_names}
    keys, ents = [], []
    pick = rng.random((m, 3))
    for r in range(m):
        i = int(ent[r])
        d = str(dept[r])
        pref4 = pop.pref_code[i][:4]
        pool = ctx.cert_pool.get((d, pref4))
        if pool is None or len(pool) < 2:
            pool = ctx.cert_pool.get((d, ""), ctx.cert_pool.get(("SCJG", "")))
        a = int(pick[r, 0] * len(pool))
        b = (a + 1 + int(pick[r, 1] * (len(pool) - 1))) % len(pool)
        matters = ctx.matters.get(d, ctx.matters["SCJG"])
        mon = months[r].replace("-", "")
        inspection_id = f"JC{mon}{seq[r]:06d}"
        tt = str(ttype[r])
        cols["inspection_id"].append(inspection_id)
        cols["task_id"].append(f"RW{mon}-{d}-{pref4}-{TASK_LETTER[tt]}")
        cols["task_type"].append(tt)
        cols["uscc"].append(pop.uscc[i])
        cols["ent_name"].append(pop.ent_name[i] if has_name[r] else "")
        cols["matter_code"].append(matters[int(pick[r, 2] * len(matters))])
        cols["inspection_date"].append(insp_date[r])
        cols["inspector_cert_nos"].append(f"{pool[a]};{pool[b]}")
        cols["result"].append(str(result[r]))
        cols["rectified_date"].append(rect_date[r] if result[r] == "2" else "")
        cols["department_code"].append(d)
        cols["updated_at"].append(updated[r])
        keys.append(inspection_id)
        ents.append(pop.uscc[i])
    return Records(feed, cols, upd_ts, keys, ents, ["uscc"] * m)


# --- tax_credit ------------------------------------------------------------------------


def gen_tax_credit(pop: Population, ctx: FeedContext, rng: np.random.Generator) -> Records:
    fcfg = ctx.cfg["feeds"]["tax_credit"]
    n = len(pop)
    taxpayer = rng.random(n) < fcfg["taxpayer_share"]
    old_id = (pop.reg_no != "") & (rng.random(n) < fcfg["old_tax_id"])
    tax_ids = [pop.region_code[i] + pop.org_code[i] if old_id[i] else pop.uscc[i] for i in range(n)]
    end_year = int(years_of(np.array([ctx.end_ts]))[0])
    ent_l, year_l, ts_l, grade_l, ver_l = [], [], [], [], []
    for year in range(int(fcfg["first_year"]), end_year):
        pub_lo = _ts(year + 1, 4, 1, 9)
        alive = (pop.establish_ts < _ts(year, 12, 31)) & ((pop.status_ts == 0) | (pop.status_ts > pub_lo))
        idx = np.nonzero(alive & taxpayer)[0]
        pub = pub_lo + rng.integers(0, 29 * DAY, size=len(idx))
        score = pop.hidden_risk[idx] + rng.normal(0, 0.1, size=len(idx))
        grade = np.array(list("ABCD"))[np.searchsorted([0.17, 0.34, 0.58], score)]
        new = pop.establish_ts[idx] >= _ts(year, 1, 1)
        grade = np.where(new & (grade != "D"), "M", grade)
        for arr, val in ((ent_l, idx), (year_l, np.full(len(idx), year)), (ts_l, pub), (grade_l, grade),
                         (ver_l, np.zeros(len(idx), dtype=np.int64))):
            arr.append(val)
        rer = rng.random(len(idx)) < fcfg["rerated"]
        ri = np.nonzero(rer)[0]
        better = np.array(list("AABBC"))[np.minimum(4, np.searchsorted([0.17, 0.34, 0.58], score[ri]) + 1)]
        for arr, val in ((ent_l, idx[ri]), (year_l, np.full(len(ri), year)),
                         (ts_l, pub[ri] + rng.integers(30 * DAY, 120 * DAY, size=len(ri))), (grade_l, better),
                         (ver_l, np.ones(len(ri), dtype=np.int64))):
            arr.append(val)
    ent = np.concatenate(ent_l)
    year_arr = np.concatenate(year_l)
    ts = np.concatenate(ts_l)
    grade = np.concatenate(grade_l)
    m = len(ent)
    owed = np.where(np.isin(grade, ["C", "D"]) & (rng.random(m) < np.where(grade == "D", 0.7, 0.3)),
                    np.round(rng.lognormal(9.5, 1.3, size=m), 2), 0.0)
    blank = rng.random(m) < 0.5
    feed = FEEDS["tax_credit"]
    date_txt = fmt_date(ts, "slash", seconds=True)
    cols = {
        "纳税人识别号": [tax_ids[i] for i in ent.tolist()],
        "纳税人名称": [pop.ent_name[i] for i in ent.tolist()],
        "评价年度": [str(y) for y in year_arr.tolist()],
        "信用级别": grade.tolist(),
        "欠税余额": [f"{o:.2f}" if o > 0 else ("" if b else "0.00") for o, b in zip(owed.tolist(), blank.tolist(),
                                                                                   strict=True)],
        "更新日期": date_txt,
    }
    keys = [f"{t}|{y}" for t, y in zip(cols["纳税人识别号"], cols["评价年度"], strict=True)]
    kinds = ["tax_id" if old_id[i] else "uscc" for i in ent.tolist()]
    return Records(feed, cols, ts + 10 * 3600, keys, [pop.uscc[i] for i in ent.tolist()], kinds)


# --- hrss_social_insurance -------------------------------------------------------------------


def gen_hrss(pop: Population, ctx: FeedContext, rng: np.random.Generator) -> Records:
    fcfg = ctx.cfg["feeds"]["hrss_social_insurance"]
    n = len(pop)
    unit = (pop.ent_type != "个体工商户") & (rng.random(n) < fcfg["unit_share"])
    by_org = rng.random(n) < fcfg["org_code_share"]
    start = ctx.start_months_back(int(fcfg["history_months"]))
    first = np.datetime64(int(start), "s").astype("datetime64[M]")
    last = np.datetime64(int(ctx.end_ts), "s").astype("datetime64[M]")
    periods = np.arange(first, last)  # reported in the following month
    p_enter = fcfg["enter_base"] + fcfg["enter_risk"] * pop.hidden_risk ** 1.5
    state = rng.random(n) < p_enter * 3
    run = np.where(state, rng.integers(1, 4, size=n), 0)
    ent_l, per_l, ts_l, months_l = [], [], [], []
    for per in periods:
        per_start = int((per.astype("datetime64[s]") - np.datetime64("1970-01-01T00:00:00")).astype(int))
        report = int(((per + 1).astype("datetime64[s]") - np.datetime64("1970-01-01T00:00:00")).astype(int))
        stay = rng.random(n) < fcfg["stay"]
        enter = rng.random(n) < p_enter
        state = np.where(state, stay, enter)
        run = np.where(state, run + 1, 0)
        alive = unit & (pop.establish_ts < per_start) & ((pop.status_ts == 0) | (pop.status_ts > report))
        idx = np.nonzero(alive)[0]
        ent_l.append(idx)
        per_l.append(np.full(len(idx), str(per)))
        ts_l.append(report + rng.integers(8 * 3600, 15 * DAY, size=len(idx)))
        months_l.append(run[idx])
    ent = np.concatenate(ent_l) if ent_l else np.zeros(0, dtype=np.int64)
    period = np.concatenate(per_l).tolist() if per_l else []
    ts = np.concatenate(ts_l) if ts_l else np.zeros(0, dtype=np.int64)
    arrears_months = np.concatenate(months_l) if months_l else np.zeros(0, dtype=np.int64)
    m = len(ent)
    insured = np.maximum(1, (pop.employees[ent] * rng.uniform(0.6, 1.0, size=m)).astype(np.int64))
    amount = np.round(insured * arrears_months * rng.uniform(800, 1400, size=m), 2)
    codes = [pop.org_code[i] if by_org[i] else pop.uscc[i] for i in ent.tolist()]
    feed = FEEDS["hrss_social_insurance"]
    cols = {
        "unit_code": codes,
        "unit_name": [pop.ent_name[i] for i in ent.tolist()],
        "period": period,
        "insured_count": insured.tolist(),
        "arrears_amount": [a if a > 0 else 0 for a in amount.tolist()],
        "arrears_months": arrears_months.tolist(),
        "reported_at": fmt_timestamp(ts, "iso"),
    }
    keys = [f"{c}|{p}" for c, p in zip(codes, period, strict=True)]
    kinds = ["org_code" if by_org[i] else "uscc" for i in ent.tolist()]
    return Records(feed, cols, ts, keys, [pop.uscc[i] for i in ent.tolist()], kinds)


# --- env_penalty -----------------------------------------------------------------------------


def gen_env_penalty(pop: Population, ctx: FeedContext, rng: np.random.Generator) -> Records:
    fcfg = ctx.cfg["feeds"]["env_penalty"]
    section = np.array([c[0] for c in pop.industry_code])
    catering = np.array([c == "H62" for c in pop.industry_code])
    eligible = np.isin(section, ["B", "C", "D", "E"]) | catering
    lo, hi = alive_window(pop, ctx.history_ts, ctx.end_ts)
    rate = np.where(eligible, fcfg["per_year"] * risk_weight(pop, ctx.cfg, fcfg["risk_weight"]) * 3, 0.0)
    ent, dec = poisson_events(rng, rate, lo, hi)
    m = len(ent)
    years = years_of(dec)
    prefix = [vocab.CITY_ABBR.get(pop.pref_code[i], "济") for i in ent.tolist()]
    seq = seq_in_group([f"{p}{y}" for p, y in zip(prefix, years.tolist(), strict=True)], ctx,
                       order=np.argsort(dec, kind="stable"))
    by_org = rng.random(m) < 0.15
    fines = np.array([2000, 5000, 10000, 20000, 30000, 50000, 100000, 200000, 500000, 1000000])
    fine = fines[np.minimum(9, rng.integers(0, 7, size=m) + (pop.hidden_risk[ent] * 4).astype(int))]
    upd = dec + rng.integers(1 * DAY, 10 * DAY, size=m)
    feed = FEEDS["env_penalty"]
    u = rng.random((m, 3))
    sev = np.where(pop.hidden_risk[ent] > 0.5, "2", "1")
    sev = np.where(u[:, 2] < 0.05, "3", sev)
    viol = []
    for r, i in enumerate(ent.tolist()):
        if catering[i]:
            viol.append("餐饮油烟超标排放")
        elif section[i] == "E":
            viol.append(("未采取有效防尘降尘措施", "未批先建")[int(u[r, 0] * 2)])
        else:
            viol.append(vocab.ENV_VIOLATIONS[2 + int(u[r, 0] * (len(vocab.ENV_VIOLATIONS) - 2))])
    cols = {
        "case_no": [f"{p}环罚〔{y}〕{s}号" for p, y, s in zip(prefix, years.tolist(), seq.tolist(), strict=True)],
        "unit_code": [pop.org_code[i] if o else pop.uscc[i] for i, o in zip(ent.tolist(), by_org.tolist(), strict=True)],
        "unit_name": [pop.ent_name[i] for i in ent.tolist()],
        "violation": viol,
        "fine": fine.tolist(),
        "decision_date": fmt_date(dec, "compact", seconds=True),
        "region_code": [pop.region_code[i] if u[r, 1] < 0.75 else None for r, i in enumerate(ent.tolist())],
        "severity": [str(s) if u[r, 1] > 0.25 else None for r, s in enumerate(sev.tolist())],
        "updated_at": fmt_timestamp(upd, "iso"),
    }
    kinds = ["org_code" if o else "uscc" for o in by_org.tolist()]
    return Records(feed, cols, upd, list(cols["case_no"]), [pop.uscc[i] for i in ent.tolist()], kinds)


# --- court_dishonest --------------------------------------------------------------------------


def gen_court(pop: Population, ctx: FeedContext, rng: np.random.Generator) -> Records:
    fcfg = ctx.cfg["feeds"]["court_dishonest"]
    lo, hi = alive_window(pop, ctx.history_ts, ctx.end_ts)
    w = risk_weight(pop, ctx.cfg, fcfg["risk_weight"])
    ent_l, t_l = poisson_events(rng, fcfg["per_year"] * w, lo, hi)
    rate_p = fcfg["per_year"] * fcfg["person_share"] * w * pop.ric_delivered
    ent_p, t_p = poisson_events(rng, rate_p, lo, hi)
    n_free = rng.binomial(max(1, len(ent_p)), fcfg["person_unlinked"]) if len(pop) else 0
    free_ent = rng.integers(0, len(pop), size=n_free)
    t_free = ctx.history_ts + (rng.random(n_free) * (ctx.end_ts - ctx.history_ts)).astype(np.int64)
    free_names = person_names(rng, n_free)
    free_rics = rics(rng, n_free)
    party_ent = np.concatenate([ent_l, ent_p, free_ent])
    pub = np.concatenate([t_l, t_p, t_free])
    ptype = ["法人"] * len(ent_l) + ["自然人"] * (len(ent_p) + n_free)
    m = len(party_ent)
    pub = (pub // DAY) * DAY + rng.integers(8 * 3600, 20 * 3600, size=m)
    days = fmt_date(pub, "compact", seconds=True)
    seq = seq_in_group(days, ctx, order=np.argsort(pub, kind="stable"))
    years = years_of(pub)
    case_year = years - (rng.random(m) < 0.3)
    removed = rng.random(m) < fcfg["removed"]
    rem_ts = pub + rng.integers(30 * DAY, 400 * DAY, size=m)
    pub_txt = fmt_date(pub, "cn0", seconds=True)
    rem_txt = fmt_date(rem_ts, "cn0", seconds=True)
    upd1 = fmt_timestamp(pub, "std")
    upd2 = fmt_timestamp(rem_ts + rng.integers(3600, 8 * 3600, size=m), "std")
    feed = FEEDS["court_dishonest"]
    cols: dict[str, list] = {c: [] for c in feed.column_names}
    ts_out, keys, ents, kinds = [], [], [], []
    u = rng.random((m, 3))
    case_seq = rng.integers(200, 2000, size=m)
    n_legal, n_linked = len(ent_l), len(ent_l) + len(ent_p)
    for r in range(m):
        i = int(party_ent[r])
        record_id = f"SX{days[r]}{seq[r]:05d}"
        if r < n_legal:
            name = pop.ent_name[i]
            x = u[r, 0]
            pid, kind = ((pop.uscc[i], "uscc") if x < 0.75 else
                         ((pop.org_code[i][:8] + "-" + pop.org_code[i][8] if x < 0.82 else pop.org_code[i]), "org_code")
                         if x < 0.9 else ("", "name"))
            entity = pop.uscc[i]
        elif r < n_linked:
            name, pid, kind, entity = pop.legal_rep_name[i], pop.legal_rep_ric[i], "ric", pop.uscc[i]
        else:
            j = r - n_linked
            name, pid, kind, entity = free_names[j], free_rics[j], "ric", None
        court_region = pop.region_code[i]
        court = authority(pop, i, "人民法院") if u[r, 1] < 0.85 else \
            vocab.geography().pref_names.get(pop.pref_code[i], "济源市") + "中级人民法院"
        code4 = court_region[2:6] if u[r, 1] < 0.85 else pop.pref_code[i][2:4]
        case_code = f"({case_year[r]})豫{code4}执{case_seq[r]}号"
        status = "全部未履行" if u[r, 2] < 0.7 else "部分履行"
        versions = [(0, int(pub[r]))] + ([(1, int(rem_ts[r]))] if removed[r] else [])
        for v, t in versions:
            cols["record_id"].append(record_id)
            cols["case_code"].append(case_code)
            cols["party_name"].append(name)
            cols["party_type"].append(ptype[r])
            cols["party_id_no"].append(pid)
            cols["court_name"].append(court)
            cols["publish_date"].append(pub_txt[r])
            cols["performance_status"].append("已履行" if v else status)
            cols["removed_date"].append(rem_txt[r] if v else "")
            cols["updated_at"].append(upd2[r] if v else upd1[r])
            ts_out.append(t)
            keys.append(record_id)
            ents.append(entity)
            kinds.append(kind)
    return Records(feed, cols, np.array(ts_out, dtype=np.int64), keys, ents, kinds)


# --- names as citizens write them -------------------------------------------------------------

_BRANCH_WORDS = ("店", "分店")
_COMPANY_FORMS = ("有限公司", "有限责任公司", "股份有限公司")


@cache
def _s2t():
    try:
        from opencc import OpenCC

        return OpenCC("s2t").convert
    except Exception:  # noqa: BLE001 - optional dependency missing: fall back to a small table
        table = str.maketrans("华业东车马门龙长广发开关网电贸运汇鸿丰乐兴达宁义", "華業東車馬門龍長廣發開關網電貿運匯鴻豐樂興達寧義")
        return lambda text: text.translate(table)


def citizen_name(pop: Population, i: int, variant: str, rng: np.random.Generator) -> tuple[str, str | None, str]:
    """(name as written, true USCC or None, variant actually used)."""
    name, prefix, core, form = pop.ent_name[i], pop.prefix[i], pop.core[i], pop.legal_form[i]
    uscc = pop.uscc[i]
    if variant == "drop_region" and prefix:
        return core + form, uscc, variant
    if variant == "legal_form" and form in _COMPANY_FORMS:
        new_form = {"有限公司": "有限责任公司", "有限责任公司": "有限公司"}.get(form, "")
        return prefix + core + (new_form if rng.random() < 0.5 else ""), uscc, variant
    if variant == "branch":
        county = _county_name(pop.region_code[i]) or "济源"
        short = county[:-1] if len(county) > 2 else county
        if form in _COMPANY_FORMS and rng.random() < 0.5:
            return name + short + "分公司", uscc, variant
        street = vocab.STREETS[int(rng.integers(0, len(vocab.STREETS)))]
        return name + (f"({short}店)" if rng.random() < 0.5 else f"({street}店)"), uscc, variant
    if variant == "abbreviation" and (prefix or form):
        return core, uscc, variant
    if variant == "homophone":
        chars = [k for k, c in enumerate(core) if c in vocab.HOMOPHONES]
        if chars:
            k = chars[int(rng.integers(0, len(chars)))]
            typo = core[:k] + vocab.HOMOPHONES[core[k]] + core[k + 1:]
            return prefix + typo + form, uscc, variant
    if variant == "traditional":
        converted = _s2t()(name)
        if converted != name:
            return converted, uscc, variant
    if variant == "decoy":
        decoy = _decoy(prefix, core, form)
        # A look-alike that happens to be registered in this chunk would not be a decoy.
        if "names" not in pop.extra:
            pop.extra["names"] = frozenset(pop.ent_name.tolist())
        if decoy not in pop.extra["names"]:
            return decoy, None, variant
        return name, uscc, "exact"
    if variant == "twin" and prefix and (pop.twin_of[i] >= 0 or i in pop.extra.get("twinned", ())):
        return core + form, uscc, variant
    if variant == "trade_only" and pop.ent_type[i] != "个体工商户" and len(core) > 2:
        return core[:2], uscc, variant  # the 字号 alone: 铭祺
    if variant == "owner_shop" and pop.ent_type[i] in _OWNER_SHOPS:
        rep = pop.legal_rep_name[i]
        r = rng.random()
        spoken = f"{rep}的店" if r < 0.5 else f"{rep}家的店" if r < 0.75 else f"老{rep[0]}家的店"
        return spoken, uscc, variant
    return name, uscc, "exact"


_OWNER_SHOPS = ("个体工商户", "个人独资企业")
# What a look-alike in another line of business calls itself (an ordinary shop word).
_OTHER_TRADES = (("超市", "F"), ("饭店", "H"), ("药店", "F"), ("理发店", "O"), ("装修", "E"))


def lookalike(pop: Population, i: int, rng: np.random.Generator) -> tuple[str, int] | None:
    """An unregistered business that looks like enterprise i: (its name, the enterprise whose place it has).

    Half the time the same name without region in another county (the place of another
    enterprise j); otherwise i's trade name with another line of business in i's county.
    None when the look-alike would be a registered name.
    """
    if "names" not in pop.extra:
        pop.extra["names"] = frozenset(pop.ent_name.tolist())
    core, form = pop.core[i], pop.legal_form[i]
    if rng.random() < 0.5:
        for _ in range(8):
            j = int(rng.integers(0, len(pop.uscc)))
            if pop.region_code[j] != pop.region_code[i] and core + form not in pop.extra["names"]:
                return core + form, j
        return None
    words = [w for w, section in _OTHER_TRADES if section != pop.industry_code[i][:1]]
    name = pop.prefix[i] + core[:2] + words[int(rng.integers(0, len(words)))]
    return (name, i) if len(core) > 2 and name not in pop.extra["names"] else None


def _decoy(prefix: str, core: str, form: str) -> str:
    """A different business whose name is one character away (not a homophone)."""
    chars = [k for k, c in enumerate(core) if c in vocab.DECOY_SWAP]
    if chars:
        k = chars[len(core) % len(chars)]
        return prefix + core[:k] + vocab.DECOY_SWAP[core[k]] + core[k + 1:] + form
    brand = vocab.BRAND_CHARS
    swap = brand[(brand.find(core[1]) + 17) % len(brand)] if len(core) > 2 else "新"
    return prefix + core[0] + swap + core[2:] + form


def unregistered_name(pop: Population, rng: np.random.Generator, near: int | None = None) -> str:
    """A business that is not registered at all, in the county of enterprise `near` if given."""
    if rng.random() < 0.5:
        return vocab.UNREGISTERED[int(rng.integers(0, len(vocab.UNREGISTERED)))]
    county = _county_name(pop.region_code[near]) if near is not None else ""
    if not county:
        county = vocab.geography().county_names[int(rng.integers(0, len(vocab.geography().county_names)))]
    surname = vocab.SURNAMES[int(rng.integers(0, 40))]
    shop = vocab.SHOPS[int(rng.integers(0, len(vocab.SHOPS)))][0]
    return f"{county}{surname}{('嫂', '哥', '姐', '大爷')[int(rng.integers(0, 4))]}{shop}"


def _variant_draws(ctx: FeedContext, m: int, rng: np.random.Generator) -> list[str]:
    ncfg = ctx.cfg["names"]
    kinds = list(ncfg)
    p = np.array([ncfg[k] for k in kinds], dtype=float)
    return [kinds[i] for i in rng.choice(len(kinds), size=m, p=p / p.sum()).tolist()]


def citizen_address(pop: Population, i: int, rng: np.random.Generator) -> str | None:
    x = rng.random()
    addr = pop.address[i]
    if x < 0.3:
        return None
    if x < 0.55:
        return addr
    if x < 0.8:
        addr = addr.replace("河南省", "")
        geo = vocab.geography()
        city = geo.pref_names.get(pop.pref_code[i], "")
        return addr.replace(city, "") if rng.random() < 0.5 else addr
    return addr.replace("河南省", "").replace("路", "露") if "路" in addr else addr


# --- hotline_12345 -----------------------------------------------------------------------------


def gen_hotline(pop: Population, ctx: FeedContext, rng: np.random.Generator) -> Records:  # noqa: C901
    fcfg = ctx.cfg["feeds"]["hotline_12345"]
    start = ctx.start_months_back(int(fcfg["history_months"]))
    lo, hi = alive_window(pop, start, ctx.end_ts)
    w = risk_weight(pop, ctx.cfg, fcfg["risk_weight"])
    share_other = fcfg["no_business"] + fcfg["unregistered"]
    ent, recv = poisson_events(rng, fcfg["per_year"] * (1 - share_other) * w, lo, hi)
    n_biz = len(ent)
    n_other = rng.binomial(max(1, n_biz), share_other / (1 - share_other)) if n_biz else 0
    other_ent = rng.integers(0, len(pop), size=n_other)
    other_ts = start + (rng.random(n_other) * (ctx.end_ts - start)).astype(np.int64)
    unreg = rng.random(n_other) < fcfg["unregistered"] / share_other
    all_ent = np.concatenate([ent, other_ent])
    recv = np.concatenate([recv, other_ts])
    kind = np.concatenate([np.zeros(n_biz, dtype=np.int8), np.where(unreg, 2, 1).astype(np.int8)])
    m = len(all_ent)
    days = fmt_date(recv, "compact", seconds=True)
    seq = seq_in_group(days, ctx, order=np.argsort(recv, kind="stable"))
    closed = recv + rng.integers(3600, 15 * DAY, size=m)
    recv_txt = fmt_timestamp(recv, "std")
    closed_txt = fmt_timestamp(closed, "std")
    upd_open_ts = recv + rng.integers(300, 3600, size=m)
    upd_open = fmt_timestamp(upd_open_ts, "std")
    upd_closed_ts = closed + rng.integers(300, 8 * 3600, size=m)
    upd_closed = fmt_timestamp(upd_closed_ts, "std")
    variants = _variant_draws(ctx, m, rng)
    u = rng.random((m, 6))
    risk = pop.hidden_risk[all_ent]
    feed = FEEDS["hotline_12345"]
    cols: dict[str, list] = {c: [] for c in feed.column_names}
    ts_out, keys, ents, kinds_out, nvars = [], [], [], [], []
    cats_biz = np.array(["投诉", "举报", "咨询", "求助", "建议"])
    cat_draw = cats_biz[rng.choice(5, size=m, p=[0.65, 0.15, 0.13, 0.04, 0.03])]
    channels = ("电话", "网站", "APP", "微信")
    sats = ("满意", "基本满意", "不满意", "未评价")
    for r in range(m):
        i = int(all_ent[r])
        k = int(kind[r])
        ticket = f"RX{days[r]}{seq[r]:06d}"
        if k == 0:
            category = str(cat_draw[r])
            contents = vocab.HOTLINE_BUSINESS[category]
            content = contents[int(u[r, 1] * len(contents))]
            target, entity, nv = citizen_name(pop, i, variants[r], rng)
            place = i
            look = lookalike(pop, i, rng) if variants[r] == "lookalike" else None
            if look is not None:  # a different, unregistered business: its own place, always given
                (target, place), entity, nv = look, None, "lookalike"
            address = citizen_address(pop, place, rng)
            region = pop.region_code[place] if u[r, 2] < 0.8 or look is not None else None
            dept = "RS" if "工资" in content else ("ZJ" if "装修" in content else "SCJG")
            id_kind = "name"
        elif k == 2:
            category = "投诉" if u[r, 0] < 0.8 else "举报"
            content = vocab.HOTLINE_BUSINESS[category][int(u[r, 1] * len(vocab.HOTLINE_BUSINESS[category]))]
            target, entity, nv, id_kind = unregistered_name(pop, rng, i), None, "unregistered", "name"
            address = citizen_address(pop, i, rng)
            region = pop.region_code[i] if u[r, 2] < 0.6 else None
            dept = "SCJG"
        else:
            category = ("咨询", "求助", "建议")[int(u[r, 0] * 3)]
            content = vocab.HOTLINE_GENERAL[int(u[r, 1] * len(vocab.HOTLINE_GENERAL))]
            target, entity, nv, id_kind, address = None, None, None, "none", None
            region = pop.region_code[i] if u[r, 2] < 0.5 else None
            dept = None if u[r, 3] < 0.5 else "SCJG"
        substantiated = None
        if category in ("投诉", "举报") and k == 0:
            substantiated = bool(rng.random() < 0.25 + 0.6 * risk[r])
        elif category in ("投诉", "举报"):
            substantiated = bool(u[r, 5] < 0.5)
        versions = [(0, int(upd_open_ts[r])), (1, int(upd_closed_ts[r]))]
        if upd_closed_ts[r] > ctx.end_ts and rng.random() < 0.5:
            versions = versions[:1]
        for v, t in versions:
            cols["ticket_id"].append(ticket)
            cols["received_at"].append(recv_txt[r])
            cols["channel"].append(channels[int(u[r, 4] * 4)] if u[r, 4] < 0.98 else None)
            cols["category"].append(category)
            cols["target_name"].append(target)
            cols["target_address"].append(address)
            cols["region_code"].append(region)
            cols["content"].append(content)
            cols["handling_dept"].append(dept)
            cols["closed_at"].append(closed_txt[r] if v else None)
            cols["satisfaction"].append(sats[int(u[r, 5] * 4)] if v else None)
            cols["substantiated"].append(substantiated if v else None)
            cols["updated_at"].append(upd_closed[r] if v else upd_open[r])
            ts_out.append(t)
            keys.append(ticket)
            ents.append(entity)
            kinds_out.append(id_kind)
            nvars.append(nv)
    return Records(feed, cols, np.array(ts_out, dtype=np.int64), keys, ents, kinds_out, name_variant=nvars)


# --- sentiment ---------------------------------------------------------------------------------


def gen_sentiment(pop: Population, ctx: FeedContext, rng: np.random.Generator) -> Records:
    fcfg = ctx.cfg["feeds"]["sentiment"]
    start = ctx.start_months_back(int(fcfg["history_months"]))
    lo, hi = alive_window(pop, start, ctx.end_ts)
    ent, pub = poisson_events(rng, fcfg["per_year"] * risk_weight(pop, ctx.cfg, fcfg["risk_weight"]), lo, hi)
    m = len(ent)
    days = fmt_date(pub, "compact", seconds=True)
    seq = seq_in_group(days, ctx, order=np.argsort(pub, kind="stable"))
    upd1_ts = pub + rng.integers(1800, 5 * 3600, size=m)
    upd2_ts = upd1_ts + rng.integers(DAY, 10 * DAY, size=m)
    pub_txt = fmt_timestamp(pub, "iso")
    upd1 = fmt_timestamp(upd1_ts, "iso")
    upd2 = fmt_timestamp(upd2_ts, "iso")
    variants = _variant_draws(ctx, 2 * m, rng)
    u = rng.random((m, 6))
    risk = pop.hidden_risk[ent]
    negative = u[:, 0] < 0.25 + 0.6 * risk
    heat = np.maximum(0, rng.lognormal(3.5, 1.5, size=m).astype(np.int64))
    sources = ("新闻", "微博", "微信", "论坛", "短视频")
    feed = FEEDS["sentiment"]
    cols: dict[str, list] = {c: [] for c in feed.column_names}
    ts_out, keys, ents, kinds, nvars, mentions = [], [], [], [], [], []
    for r in range(m):
        i = int(ent[r])
        item = f"WX{days[r]}{seq[r]:06d}"
        x = u[r, 1]
        if x < fcfg["no_names"]:
            names, ment = (None if u[r, 2] < 0.5 else []), []
            title = vocab.SENTIMENT_NONE[int(u[r, 3] * len(vocab.SENTIMENT_NONE))]
        else:
            if x < fcfg["no_names"] + fcfg["unregistered"]:
                first = (unregistered_name(pop, rng, i), None, "unregistered")
            else:
                first = citizen_name(pop, i, variants[2 * r], rng)
            ment = [(first[1], "name", first[2])]
            names = [first[0]]
            if u[r, 4] < fcfg["two_names"] and len(pop) > 1:
                j = int(rng.integers(0, len(pop)))
                second = citizen_name(pop, j, variants[2 * r + 1], rng)
                names.append(second[0])
                ment.append((second[1], "name", second[2]))
            templates = vocab.SENTIMENT_NEG if negative[r] else vocab.SENTIMENT_POS
            title = templates[int(u[r, 3] * len(templates))].format(n=names[0])
        polarity = round(-float(rng.uniform(0.2, 1.0)) if negative[r] else float(rng.uniform(0.1, 1.0)), 2)
        versions = [(0, int(upd1_ts[r]), int(heat[r]))]
        if u[r, 5] < fcfg["heat_update"]:
            versions.append((1, int(upd2_ts[r]), int(heat[r] * 3 + 10)))
        for v, t, h in versions:
            cols["item_id"].append(item)
            cols["published_at"].append(pub_txt[r])
            cols["source"].append(sources[int(u[r, 2] * 5)])
            cols["title"].append(title)
            cols["mentioned_names"].append(list(names) if isinstance(names, list) else names)
            cols["polarity"].append(polarity if u[r, 4] < 0.97 else None)
            cols["heat"].append(h if u[r, 3] < 0.96 else None)
            cols["updated_at"].append(upd2[r] if v else upd1[r])
            ts_out.append(t)
            keys.append(item)
            ents.append(ment[0][0] if ment else None)
            kinds.append("name" if ment else "none")
            nvars.append(ment[0][2] if ment else None)
            mentions.append(list(ment))
    return Records(feed, cols, np.array(ts_out, dtype=np.int64), keys, ents, kinds, name_variant=nvars,
                   mentions=mentions)


# --- coop_task_event ----------------------------------------------------------------------------


def gen_coop(pop: Population, ctx: FeedContext, rng: np.random.Generator) -> Records:
    fcfg = ctx.cfg["feeds"]["coop_task_event"]
    start = ctx.start_months_back(int(fcfg["history_months"]))
    lo, hi = alive_window(pop, start, ctx.end_ts)
    ent, t0 = poisson_events(rng, fcfg["tasks_per_year"] * risk_weight(pop, ctx.cfg, 1.5), lo, hi)
    m = len(ent)
    months = month_str(t0)
    tseq = seq_in_group(months, ctx, order=np.argsort(t0, kind="stable"))
    no_subject = rng.random(m) < fcfg["no_subject"]
    depts = np.array(vocab.ENFORCING)
    wts = np.array(vocab.ENFORCING_WEIGHTS)
    a = rng.choice(len(depts), size=m, p=wts / wts.sum())
    b = (a + 1 + rng.integers(0, len(depts) - 1, size=m)) % len(depts)
    c = (b + 1 + rng.integers(0, len(depts) - 1, size=m)) % len(depts)
    with_transfer = rng.random(m) < 0.2
    deadline = fmt_date(t0 + rng.integers(20 * DAY, 30 * DAY, size=m), "dash", seconds=True)
    ev_ent, ev_ts, ev_rows = [], [], []
    for r in range(m):
        da, db, dc = str(depts[a[r]]), str(depts[b[r]]), str(depts[c[r]])
        steps = [("initiate", da, None), ("dispatch", da, db)]
        handler = db
        if with_transfer[r]:
            steps.append(("transfer", db, dc))
            handler = dc
        steps += [("handle", handler, None), ("feedback", handler, da), ("close", da, None)]
        t = int(t0[r])
        for etype, frm, to in steps:
            if t > ctx.end_ts:
                break
            ev_ent.append(r)
            ev_ts.append(t)
            ev_rows.append((etype, frm, to))
            t += int(rng.integers(3600, 7 * DAY))
    n_ev = len(ev_ts)
    ev_ts_arr = np.array(ev_ts, dtype=np.int64)
    days = fmt_date(ev_ts_arr, "compact", seconds=True)
    eseq = seq_in_group(days, ctx, order=np.argsort(ev_ts_arr, kind="stable"))
    at_txt = fmt_timestamp(ev_ts_arr, "iso")
    feed = FEEDS["coop_task_event"]
    cols: dict[str, list] = {cname: [] for cname in feed.column_names}
    keys, ents, kinds = [], [], []
    u = rng.random((max(n_ev, 1), 2))
    for e in range(n_ev):
        r = ev_ent[e]
        i = int(ent[r])
        etype, frm, to = ev_rows[e]
        da = str(depts[a[r]])
        event_id = f"EV{days[e]}{eseq[e]:06d}"
        matters = ctx.matters.get(da, ctx.matters["SCJG"])
        subject = None if no_subject[r] else pop.uscc[i]
        cols["event_id"].append(event_id)
        cols["task_id"].append(f"XT{months[r].replace('-', '')}{tseq[r]:05d}")
        cols["event_type"].append(etype)
        cols["from_dept"].append(frm)
        cols["to_dept"].append(to)
        cols["at"].append(at_txt[e])
        cols["subject_uscc"].append(subject)
        cols["matter_code"].append(matters[int(u[e, 0] * len(matters))] if u[e, 1] < 0.8 else None)
        cols["deadline"].append(deadline[r] if u[e, 1] < 0.93 else None)
        cols["note"].append(vocab.COOP_NOTES[etype] if u[e, 0] < 0.9 else None)
        keys.append(event_id)
        ents.append(subject)
        kinds.append("uscc" if subject else "none")
    late = (rng.random(n_ev) < fcfg["late"]).astype(np.int64)
    return Records(feed, cols, ev_ts_arr, keys, ents, kinds, late=late)


# --- license -------------------------------------------------------------------------------------


def gen_license(pop: Population, ctx: FeedContext, rng: np.random.Generator) -> Records:  # noqa: C901
    fcfg = ctx.cfg["feeds"]["license"]
    n = len(pop)
    ltype: list[str | None] = []
    for i in range(n):
        kf, code, core = pop.key_field[i], pop.industry_code[i], pop.core[i]
        if kf == "食品":
            ltype.append("食品生产许可证" if code[0] == "C" else "食品经营许可证")
        elif kf == "药品":
            ltype.append("药品经营许可证")
        elif kf == "特种设备":
            ltype.append("特种设备使用登记证")
        elif code[0] == "E":
            ltype.append("建筑业企业资质证书")
        elif "化工" in core:
            ltype.append("危险化学品经营许可证")
        elif code[0] in "CD":
            ltype.append("排污许可证")
        else:
            ltype.append(None)
    has = np.array([t is not None for t in ltype]) & (rng.random(n) < 0.85)
    idx = np.nonzero(has)[0]
    issue = pop.establish_ts[idx] + rng.integers(5 * DAY, 120 * DAY, size=len(idx))
    lic_ent, lic_issue = [idx], [issue]
    # Renewals: a licence valid 5 years is renewed (a new number) when it expires.
    cur_ent, cur_issue = idx, issue
    for _ in range(6):
        expire = cur_issue + 5 * 365 * DAY
        renew = (expire < ctx.end_ts) & (rng.random(len(cur_ent)) < fcfg["renew"]) & \
                ((pop.status_ts[cur_ent] == 0) | (pop.status_ts[cur_ent] > expire))
        cur_ent, cur_issue = cur_ent[renew], expire[renew] - rng.integers(0, 30 * DAY, size=int(renew.sum()))
        if not len(cur_ent):
            break
        lic_ent.append(cur_ent)
        lic_issue.append(cur_issue)
    ent = np.concatenate(lic_ent)
    issue = np.concatenate(lic_issue)
    keep = issue <= ctx.end_ts
    ent, issue = ent[keep], issue[keep]
    issue = (issue // DAY) * DAY + rng.integers(8 * 3600, 20 * 3600, size=len(ent))
    m = len(ent)
    types = [ltype[i] for i in ent.tolist()]
    seq = seq_in_group(types, ctx, order=np.argsort(issue, kind="stable"))
    valid_until_ts = issue + 5 * 365 * DAY - DAY
    issue_txt = fmt_date(issue, "dash", seconds=True)
    until_txt = fmt_date(valid_until_ts, "dash", seconds=True)
    yy = (years_of(issue) % 100).tolist()
    feed = FEEDS["license"]
    cols: dict[str, list] = {c: [] for c in feed.column_names}
    ts_out, keys, ents = [], [], []
    u = rng.random((m, 3))
    for r in range(m):
        i = int(ent[r])
        t = types[r]
        region, pref = pop.region_code[i], pop.pref_code[i]
        s = int(seq[r])
        letter = PREF_LETTER.get(pref, "A")
        if t == "食品经营许可证":
            no, dept = f"JY{1 + int(u[r, 0] * 2)}{region}{s:07d}", "SCJG"
        elif t == "食品生产许可证":
            no, dept = f"SC{103 + int(u[r, 0] * 20)}{region}{s:05d}", "SCJG"
        elif t == "药品经营许可证":
            no, dept = f"豫{letter}{'AB'[int(u[r, 0] * 2)]}{s:07d}", "SCJG"
        elif t == "特种设备使用登记证":
            no, dept = f"{'容车起梯锅'[int(u[r, 0] * 5)]}11豫{letter}{s:05d}({yy[r]:02d})", "SCJG"
        elif t == "排污许可证":
            no, dept = f"{pop.uscc[i]}{s % 1000:03d}{'PUVWXY'[int(u[r, 0] * 6)]}", "HB"
        elif t == "建筑业企业资质证书":
            no, dept = f"D{2 + int(u[r, 0] * 2)}{region[:4]}{s:04d}", "ZJ"
        else:
            no, dept = f"豫{vocab.CITY_ABBR.get(pref, '郑')}危化经字〔{2000 + yy[r]}〕{s:06d}", "YJ"
        no_expiry = t in ("特种设备使用登记证",)
        versions = [("有效", int(issue[r]))]
        expire = int(valid_until_ts[r]) + DAY
        end_status = None
        if pop.status_ts[i] > 0 and pop.status_ts[i] < min(expire, ctx.end_ts + 1):
            end_status = ("注销" if pop.status_final[i] != "吊销" else "吊销", int(pop.status_ts[i]) + 3600)
        elif not no_expiry and expire <= ctx.end_ts:
            end_status = ("过期", expire + 3600)
        if end_status:
            versions.append(end_status)
        # The first delivery carries the licences still of interest, not every one ever expired.
        if versions[-1][1] < ctx.history_ts - 6 * 365 * DAY:
            continue
        for status, tv in versions:
            cols["license_no"].append(no)
            cols["license_type"].append(t)
            cols["holder_uscc"].append(pop.uscc[i])
            cols["holder_name"].append(pop.ent_name[i] if u[r, 1] < 0.9 else "")
            cols["issuing_dept"].append(dept)
            cols["issue_date"].append(issue_txt[r])
            cols["valid_until"].append("" if no_expiry else until_txt[r])
            cols["status"].append(status)
            cols["updated_at"].append(fmt_timestamp(np.array([tv]), "std")[0])
            ts_out.append(tv)
            keys.append(no)
            ents.append(pop.uscc[i])
    return Records(feed, cols, np.array(ts_out, dtype=np.int64), keys, ents, ["uscc"] * len(keys))


CHUNK_FEEDS = ("samr_enterprise", "samr_annual_report", "samr_abnormal_list", "samr_penalty", "samr_inspection",
               "tax_credit", "hrss_social_insurance", "env_penalty", "court_dishonest", "hotline_12345",
               "sentiment", "coop_task_event", "license")
