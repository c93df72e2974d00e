"""The synthetic enterprise population: identifiers, names, places, people and hidden risk.

Generated chunk by chunk in the parent process (names must be unique across the
whole province, so one set of used names is kept), vectorised with numpy where the
work is numeric and with plain list comprehensions where strings are built.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import numpy as np

from regulake.identifiers import (
    USCC_ALPHABET,
    org_code_check_char,
    reg_no_check_digit,
    ric_check_char,
    uscc_check_char,
)

from . import vocab
from .timeline import DAY

_MA_ALPHABET = np.array(list(USCC_ALPHABET))
ENT_TYPES = ("有限责任公司", "个体工商户", "个人独资企业", "股份有限公司", "合伙企业", "外商投资企业", "农民专业合作社")


@dataclass
class Population:
    """One chunk of enterprises; every field is an array of the chunk's length."""

    start: int                    # global index of the first enterprise
    uscc: np.ndarray
    org_code: np.ndarray          # 9 chars (USCC chars 9-17)
    reg_no: np.ndarray            # 15 digits or ""
    old_ids_delivered: np.ndarray  # bool: samr_enterprise carries reg_no / org_code
    ent_name: np.ndarray
    prefix: np.ndarray            # the region words the name starts with ("" if none)
    core: np.ndarray              # name without region prefix and legal form (brand + trade)
    legal_form: np.ndarray        # 有限公司 / 有限责任公司 / 股份有限公司 / "" ...
    ent_type: np.ndarray
    region_code: np.ndarray
    pref_code: np.ndarray
    industry_code: np.ndarray     # canonical section + division
    industry_class: np.ndarray    # 4-digit class
    key_field: np.ndarray
    address: np.ndarray
    business_scope: np.ndarray
    reg_capital: np.ndarray       # 万元 as text, "" when not given
    legal_rep_name: np.ndarray
    legal_rep_ric: np.ndarray
    ric_delivered: np.ndarray     # bool
    establish_ts: np.ndarray      # int64 seconds
    status_final: np.ndarray
    status_ts: np.ndarray         # when the final status was reached (0 for 存续)
    employees: np.ndarray
    hidden_risk: np.ndarray
    hidden_class: np.ndarray
    twin_of: np.ndarray           # index (in chunk) of the enterprise whose brand this one shares, -1 if none
    extra: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.uscc)


def risk_class(risk: np.ndarray, thresholds: list[float]) -> np.ndarray:
    return np.array(list("ABCD"))[np.searchsorted(np.asarray(thresholds), risk, side="right")]


def person_names(rng: np.random.Generator, n: int) -> list[str]:
    surnames = np.array(list(vocab.SURNAMES))
    # Surnames are very unequal in China: weight the first (most common) ones up.
    weights = 1.0 / (np.arange(len(surnames)) + 6.0)
    s = rng.choice(surnames, size=n, p=weights / weights.sum())
    g = rng.choice(np.array(vocab.GIVEN_NAMES), size=n)
    return [a + b for a, b in zip(s.tolist(), g.tolist(), strict=True)]


def rics(rng: np.random.Generator, n: int, birth_from: int = 1955, birth_to: int = 2001) -> list[str]:
    """Valid RICs: a Henan birth place that existed in the birth year, a birth date, a sequence."""
    by_year = vocab.ric_regions_by_year()
    days = rng.integers((date(birth_from, 1, 1) - date(1970, 1, 1)).days,
                        (date(birth_to, 12, 31) - date(1970, 1, 1)).days, size=n)
    births = np.datetime_as_string(days.astype("datetime64[D]")).tolist()
    pick = rng.random(n)
    seq = rng.integers(0, 1000, size=n)
    out = []
    for birth, u, s in zip(births, pick.tolist(), seq.tolist(), strict=True):
        places = by_year[int(birth[:4])]
        first17 = f"{places[int(u * len(places))]}{birth.replace('-', '')}{s:03d}"
        out.append(first17 + ric_check_char(first17))
    return out


def _org_codes(rng: np.random.Generator, old: np.ndarray) -> list[str]:
    n = len(old)
    digits = rng.integers(10_000_000, 99_999_999, size=n)
    ma = rng.choice(_MA_ALPHABET, size=(n, 6))
    out = []
    for i in range(n):
        first8 = str(digits[i]) if old[i] else "MA" + "".join(ma[i])
        out.append(first8 + org_code_check_char(first8))
    return out


def _scope(rng: np.random.Generator, items: tuple[str, ...], licensed: bool, newline: bool) -> str:
    k = int(rng.integers(1, len(items) + 1))
    chosen = "；".join(items[:k])
    text = f"一般项目：{chosen}(除依法须经批准的项目外，凭营业执照依法自主开展经营活动)"
    if licensed:
        text += ("\n" if newline else "") + (
            "许可项目：食品销售；药品零售(依法须经批准的项目，经相关部门批准后方可开展经营活动，"
            "具体经营项目以相关部门批准文件或许可证件为准)")
    return text


class PopulationBuilder:
    """Builds population chunks; keeps the set of names used so far (names are unique)."""

    def __init__(self, seed: int, cfg: dict, end_ts: int, first_batch_ts: int, months: int) -> None:
        self.seed = seed
        self.cfg = cfg
        self.end_ts = end_ts
        self.first_batch_ts = first_batch_ts
        self.months = months
        self.used_names: set[str] = set()
        self.sections = vocab.industry_sections()

    def build(self, chunk: int, start: int, n: int) -> Population:  # noqa: C901 - one recipe, read top to bottom
        cfg = self.cfg["population"]
        rcfg = self.cfg["risk"]
        rng = np.random.default_rng([self.seed, 1, chunk])
        geo = vocab.geography()
        types = list(cfg["ent_type"])
        tw = np.array([cfg["ent_type"][t] for t in types])
        ent_type = rng.choice(np.array(types), size=n, p=tw / tw.sum())
        county = rng.choice(len(geo.county_codes), size=n, p=geo.county_weights)
        region = geo.county_codes[county]
        pref = geo.county_pref[county]
        risk = rng.beta(*rcfg["beta"], size=n)

        # Establishment: growing yearly volume up to the first batch, then a steady monthly share.
        first_year = int(cfg["first_year"])
        last_year = int(np.datetime64(self.first_batch_ts, "s").astype("datetime64[Y]").astype(int) + 1970)
        years = np.arange(first_year, last_year + 1)
        yw = (1 + float(cfg["year_growth"])) ** (years - first_year)
        t0 = int((np.datetime64(f"{first_year}-01-01") - np.datetime64("1970-01-01")).astype("timedelta64[s]").astype(int))
        new_share = min(0.5, float(cfg["new_per_month"]) * max(self.months - 1, 0))
        is_new = rng.random(n) < new_share
        span_old = self.first_batch_ts - t0
        frac = rng.choice(len(years), size=n, p=yw / yw.sum()) + rng.random(n)
        est_old = t0 + (frac / len(years) * span_old).astype(np.int64)
        est_new = self.first_batch_ts + (rng.random(n) * (self.end_ts - self.first_batch_ts)).astype(np.int64)
        establish = np.where(is_new, est_new, est_old)
        establish = (establish // DAY) * DAY + rng.integers(8 * 3600, 20 * 3600, size=n)
        reform = int((np.datetime64(cfg["reform_date"]) - np.datetime64("1970-01-01")).astype("timedelta64[s]").astype(int))
        old = establish < reform

        org = _org_codes(rng, old)
        kind = np.where(ent_type == "个体工商户", "92", np.where(ent_type == "农民专业合作社", "93", "91"))
        uscc = []
        for k, r, o in zip(kind.tolist(), region.tolist(), org, strict=True):
            first17 = k + r + o[:9]
            uscc.append(first17 + uscc_check_char(first17))
        seq = rng.integers(10_000_000, 99_999_999, size=n)
        reg_no = []
        for i in range(n):
            if old[i]:
                first14 = f"{region[i]}{seq[i]:08d}"
                reg_no.append(first14 + reg_no_check_digit(first14))
            else:
                reg_no.append("")
        old_delivered = old & (rng.random(n) < float(cfg["old_ids_delivered"]))

        # People: legal representatives with valid RICs.
        rep_names = person_names(rng, n)
        rep_rics = rics(rng, n)
        ric_delivered = rng.random(n) >= float(cfg["legal_rep_ric_missing"])

        # Names, trades, industries.
        brand_chars = np.array(list(vocab.BRAND_CHARS))
        b1 = rng.choice(brand_chars, size=n)
        b2 = rng.choice(brand_chars, size=n)
        b3 = rng.choice(brand_chars, size=n)
        trade_i = rng.integers(0, len(vocab.TRADES), size=n)
        shop_i = rng.integers(0, len(vocab.SHOPS), size=n)
        pref_style = rng.random(n)
        form_r = rng.random(n)
        shop_style = rng.integers(0, 6, size=n)
        twin_r = rng.random(n)
        names, prefixes, cores, forms = [], [], [], []
        ind_code, ind_class, key_field, scopes = [], [], [], []
        twin_of = np.full(n, -1, dtype=np.int64)
        for i in range(n):
            city = geo.pref_names.get(pref[i], "济源市")
            city_short = city[:-1] if city.endswith("市") else city
            county_name = geo.county_names[county[i]]
            et = ent_type[i]
            brand = b1[i] + b2[i]
            if et == "个体工商户":
                word, div, cls, kf = vocab.SHOPS[shop_i[i]]
                surname = rep_names[i][0]
                core = (surname + "记", "小" + surname, "老" + surname, brand, rep_names[i], surname + "家")[shop_style[i]] + word
                prefix, form = county_name, ""
                scope_items = ("日用百货销售", "食品销售(仅销售预包装食品)", "五金产品零售", "家用电器销售")
            else:
                trade = vocab.TRADES[trade_i[i]]
                if et == "农民专业合作社":
                    trade = next(t for t in vocab.TRADES if t.word == "养殖")
                word, div, kf = trade.word, trade.division, trade.key_field
                cls = trade.classes[int(rng.integers(0, len(trade.classes)))]
                scope_items = trade.scope
                core = brand + word
                ps = pref_style[i]
                prefix = (city if ps < 0.25 else city_short if ps < 0.55 else "河南" if ps < 0.75
                          else "河南省" if ps < 0.78 else "")
                if et in ("有限责任公司", "外商投资企业"):
                    form = "有限公司" if form_r[i] < 0.75 else "有限责任公司"
                elif et == "股份有限公司":
                    form = "股份有限公司"
                elif et == "个人独资企业":
                    form = vocab.PERSONAL_SUFFIX[int(form_r[i] * 4) % 4]
                    prefix = prefix if prefix not in ("河南", "河南省") else county_name
                elif et == "合伙企业":
                    form = "中心(普通合伙)" if form_r[i] < 0.5 else "合伙企业(有限合伙)"
                else:  # 农民专业合作社
                    form, prefix = "专业合作社", county_name
                # A twin: same brand and trade as an earlier enterprise of another city.
                if twin_r[i] < float(cfg["twin_rate"]) and i > 0 and et in ("有限责任公司", "外商投资企业"):
                    for _ in range(8):
                        j = int(rng.integers(0, i))
                        if ent_type[j] in ("有限责任公司", "外商投资企业") and pref[j] != pref[i] and prefixes[j] \
                                and forms[j] == form and twin_of[j] < 0:
                            core, word, div, cls, kf = cores[j], "", ind_code[j][1:], ind_class[j], key_field[j]
                            prefix = city_short
                            twin_of[i] = j
                            break
            name = prefix + core + form
            tries = 0
            while name in self.used_names and twin_of[i] < 0:
                tries += 1
                core = b1[i] + b3[(i + tries * 7919) % n] + (b2[i] if tries > 2 else "") + core[2:] if et != "个体工商户" \
                    else core[:-len(word)] + brand_chars[(i + tries) % len(brand_chars)] + word
                name = prefix + core + form
                if tries > 20:
                    core = core + str(tries)
                    name = prefix + core + form
            if name in self.used_names:  # a twin that collides: drop the twin relation
                twin_of[i] = -1
                core = core + b3[i]
                name = prefix + core + form
            self.used_names.add(name)
            names.append(name)
            prefixes.append(prefix)
            cores.append(core)
            forms.append(form)
            section = self.sections.get(div, "F")
            ind_code.append(section + div)
            ind_class.append(cls)
            key_field.append(kf if rng.random() < 0.8 else "")
            scopes.append(_scope(rng, scope_items, kf in ("食品", "药品"), rng.random() < 0.6))

        streets = rng.choice(np.array(vocab.STREETS), size=n)
        numbers = rng.integers(1, 400, size=n)
        bstyle = rng.random(n)
        buildings = rng.choice(np.array(vocab.BUILDINGS), size=n)
        floors = rng.integers(1, 28, size=n)
        address = []
        for i in range(n):
            city = geo.pref_names.get(pref[i], "济源市")
            county_name = geo.county_names[county[i]] if pref[i] != "419001" else ""
            base = f"河南省{city}{county_name}{streets[i]}{numbers[i]}号"
            if bstyle[i] < 0.2:
                base += f"{buildings[i]}{floors[i] % 12 + 1}号楼{floors[i]}{numbers[i] % 20 + 1:02d}室"
            elif bstyle[i] < 0.35:
                base += f"{floors[i] % 6 + 1}层"
            address.append(base)

        cap_choices = np.array([3, 5, 10, 20, 30, 50, 80, 100, 150, 200, 300, 500, 1000, 5000])
        cap = rng.choice(cap_choices, size=n, p=_cap_weights(len(cap_choices)))
        cap_missing = rng.random(n) < float(cfg["reg_capital_missing"])
        reg_capital = ["" if (cap_missing[i] or (ent_type[i] == "个体工商户" and cap[i] > 50)) else str(cap[i])
                       for i in range(n)]

        # Final status: revoked (吊销) more often for risky enterprises; time after establishment.
        status_final = np.empty(n, dtype=object)
        low = cfg["status_final"]["low"]
        high = cfg["status_final"]["high"]
        st_low = rng.choice(np.array(list(low)), size=n, p=np.array(list(low.values())) / sum(low.values()))
        st_high = rng.choice(np.array(list(high)), size=n, p=np.array(list(high.values())) / sum(high.values()))
        status_final[:] = np.where(risk < 0.5, st_low, st_high)
        status_final[is_new] = "存续"
        span = np.maximum(self.end_ts - establish - 180 * DAY, DAY)
        status_ts = establish + 180 * DAY + (rng.random(n) * span).astype(np.int64)
        status_ts = np.where(status_final == "存续", 0, status_ts)
        employees = np.maximum(1, rng.lognormal(1.3, 1.0, size=n).astype(np.int64))
        employees = np.where(ent_type == "个体工商户", np.minimum(employees, 5), employees)
        return Population(
            start=start,
            uscc=np.array(uscc, dtype=object), org_code=np.array(org, dtype=object),
            reg_no=np.array(reg_no, dtype=object), old_ids_delivered=old_delivered,
            ent_name=np.array(names, dtype=object), prefix=np.array(prefixes, dtype=object),
            core=np.array(cores, dtype=object), legal_form=np.array(forms, dtype=object),
            ent_type=ent_type.astype(object), region_code=region.astype(object), pref_code=pref.astype(object),
            industry_code=np.array(ind_code, dtype=object), industry_class=np.array(ind_class, dtype=object),
            key_field=np.array(key_field, dtype=object), address=np.array(address, dtype=object),
            business_scope=np.array(scopes, dtype=object), reg_capital=np.array(reg_capital, dtype=object),
            legal_rep_name=np.array(rep_names, dtype=object), legal_rep_ric=np.array(rep_rics, dtype=object),
            ric_delivered=ric_delivered, establish_ts=establish.astype(np.int64),
            status_final=status_final, status_ts=status_ts.astype(np.int64), employees=employees,
            hidden_risk=risk, hidden_class=risk_class(risk, rcfg["class_thresholds"]), twin_of=twin_of,
            extra={"twinned": frozenset(twin_of[twin_of >= 0].tolist())},
        )


def _cap_weights(k: int) -> np.ndarray:
    w = np.array([2, 4, 8, 10, 12, 12, 8, 14, 6, 8, 6, 5, 3, 2], dtype=float)[:k]
    return w / w.sum()


def status_at(pop: Population, ts: int | np.ndarray) -> np.ndarray:
    """Registration status of each enterprise at time ts (存续 until the final status is reached)."""
    reached = (pop.status_ts > 0) & (pop.status_ts <= ts)
    return np.where(reached, pop.status_final, "存续")


def active_at(pop: Population, ts: int) -> np.ndarray:
    """Registered and still operating (存续) at ts."""
    return (pop.establish_ts <= ts) & (status_at(pop, ts) == "存续")
