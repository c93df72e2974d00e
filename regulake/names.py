"""Chinese business names and addresses, normalised for entity resolution.

A registered name reads [region][trade name 字号][trade word 行业][legal form 组织形式]
(郑州 禾卓 食品 有限公司); citizens write it abbreviated, with or without the region,
with another legal form, a branch suffix ((二七店), 睢阳分公司), homophone typos
(鑫→新, 路→露), in traditional characters or full-width. `parse_business_name`
splits a name into the parts linking compares:

* `text`: the whole name, cleaned (half-width, simplified, no spaces or punctuation,
  one kind of bracket) — equal texts are a `name_exact` candidate;
* `core`: without region prefixes, legal form and branch suffix — what identifies the
  business within a region; `core_py` its toneless pinyin (homophones compare equal,
  while the look-alike swaps that make a different business, 数→信, do not);
* `region_codes`: the GB/T 2260 codes the prefix names (evidence, not identity: the
  same core is registered in several cities);
* `legal_family`, `branch`, `branch_region_codes`.

`parse_address` gives the region codes an address names and a road + house number
key in pinyin. Pure Python on purpose: linking runs these inside Arrow UDFs, and the
tests call them directly. The vocabulary (legal forms, branch markers) is in
conf/linking.yaml; region names come from `regulake.reference` (GB/T 2260, Henan).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from regulake.config import StrictModel, check_conf, conf_file, load_yaml
from regulake.identifiers import to_halfwidth

_BRACKETS = str.maketrans({"（": "(", "）": ")", "【": "(", "】": ")", "[": "(", "]": ")", "〔": "(", "〕": ")",
                           "{": "(", "}": ")", "〈": "(", "〉": ")"})
_SPACES = re.compile(r"\s+")
_HAN = re.compile(r"[\u4e00-\u9fff]")
# Road + house number: 红旗路141号, 中州大道46号, 南大街96号 (露 is the usual typo of 路).
_ROAD = re.compile(r"([\u4e00-\u9fff0-9]{1,10}?(?:大道|大街|路|街|道|巷|露))(\d+)号")
_TRAILING_PAREN = re.compile(r"^(.*)\(([^()]*)\)$")
MIN_CORE = 2  # never strip a name below two characters: a one-character core identifies nothing


@dataclass(frozen=True)
class BusinessName:
    """A business name split into the parts entity resolution compares."""

    text: str
    core: str
    core_py: str
    region_codes: tuple[str, ...]
    legal_family: str | None
    branch: str | None
    branch_region_codes: tuple[str, ...]

    @property
    def trade(self) -> str:
        """The first two characters of the core: usually the trade name (字号)."""
        return self.core[:2]


@dataclass(frozen=True)
class Address:
    """An address: the regions it names and a road + number key."""

    region_codes: tuple[str, ...]
    road_py: str | None
    addr_key: str | None


@dataclass(frozen=True)
class NameRules:
    legal_forms: tuple[tuple[str, str], ...]  # (suffix, family), longest first
    branch_markers: tuple[str, ...]
    drop_chars: frozenset[str]


class NamesSection(StrictModel):
    """The shape of conf/linking.yaml `names:` (an unknown key is an error naming it)."""

    legal_forms: dict[str, str]
    branch_markers: list[str]
    drop_chars: str = ""


class _NamesOf(BaseModel):
    """conf/linking.yaml as regulake.names reads it: only `names:` (jobs.linking checks the rest)."""

    model_config = ConfigDict(extra="ignore")
    names: NamesSection


@cache
def name_rules(path: Path | None = None) -> NameRules:
    """The `names:` section of conf/linking.yaml."""
    path = path or conf_file("linking.yaml")
    section = check_conf(_NamesOf, load_yaml(path), path).names
    forms = sorted(section.legal_forms.items(), key=lambda item: -len(item[0]))
    markers = sorted(section.branch_markers, key=len, reverse=True)
    return NameRules(tuple(forms), tuple(markers), frozenset(section.drop_chars))


# --- Traditional -> simplified -------------------------------------------------


@cache
def _opencc():
    """OpenCC's t2s converter (the C++ library's binding: a few microseconds a name).
    Built lazily, once per process, so Arrow UDF workers each make their own."""
    from opencc import OpenCC

    return OpenCC("t2s")


def to_simplified(text: str) -> str:
    return _opencc().convert(text) if text else text


# --- Pinyin ----------------------------------------------------------------------


@lru_cache(maxsize=65536)
def _char_pinyin(ch: str) -> str:
    from pypinyin import lazy_pinyin

    return lazy_pinyin(ch)[0] if _HAN.match(ch) else ch.lower()


def pinyin_key(text: str | None) -> str | None:
    """Toneless pinyin, character by character (homophones give equal keys).

    One reading per character, not per phrase: both sides of a comparison get the
    same reading of a polyphonic character, and it is 50x faster than phrase mode.
    """
    if not text:
        return None
    return "".join(_char_pinyin(ch) for ch in text)


# --- Regions ---------------------------------------------------------------------


@dataclass(frozen=True)
class _RegionLexicon:
    prefixes: dict[str, tuple[str, ...]]  # name form -> codes (forms strippable from a name's front)
    lengths: tuple[int, ...]  # distinct form lengths, longest first: a few dict lookups per name
    places: dict[str, tuple[str, ...]]  # every form incl. district short forms (branch places)
    parent: dict[str, str]  # county code -> prefecture code


@cache
def _region_lexicon() -> _RegionLexicon:
    from regulake.reference import load_regions

    forms: dict[str, set[str]] = {}
    places: dict[str, set[str]] = {}
    parent: dict[str, str] = {}

    def add(table: dict[str, set[str]], form: str, code: str) -> None:
        table.setdefault(form, set()).add(code)

    for region in load_regions():
        name = region.name
        if region.level == "county" and region.parent_code:
            parent[region.code] = region.parent_code
        for table in (forms, places):
            add(table, name, region.code)
        if region.level == "province":
            short = name.removesuffix("省")
        else:
            short = re.sub(r"(回族区|区|县|市)$", "", name)
        if len(short) < 2 or short == name:
            continue
        # District short forms (中原, 金水, 新华) are brands and street names too often to
        # strip from the front of a name; a county's short form (登封, 中牟) is how
        # county enterprises are named.
        if not (region.level == "county" and name.endswith("区")):
            add(forms, short, region.code)
        add(places, short, region.code)
    prefixes = {f: tuple(sorted(c)) for f, c in forms.items()}
    lengths = tuple(sorted({len(f) for f in prefixes}, reverse=True))
    return _RegionLexicon(prefixes, lengths, {f: tuple(sorted(c)) for f, c in places.items()}, parent)


def strip_region_prefix(text: str, min_rest: int = MIN_CORE) -> tuple[str, tuple[str, ...]]:
    """Remove leading region names (河南省郑州市金水区...); return the rest and their codes."""
    lexicon = _region_lexicon()
    codes: list[str] = []
    stripped = True
    while stripped:
        stripped = False
        for length in lexicon.lengths:  # longest form first: 郑州市 before 郑州
            form_codes = lexicon.prefixes.get(text[:length])
            if form_codes and len(text) - length >= min_rest:
                text = text[length:]
                codes.extend(form_codes)
                stripped = True
                break
    return text, tuple(codes)


def place_region_codes(place: str) -> tuple[str, ...]:
    """Region codes a branch place names (义马 -> 411281, 二七 -> 410103); () for streets."""
    return _region_lexicon().places.get(place, ())


def resolve_region(codes: tuple[str, ...] | list[str]) -> tuple[str | None, str | None]:
    """(county code, city prefix) implied by region codes, most specific wins.

    The city is the first 4 digits of the prefecture (4101 for Zhengzhou); 济源
    (419001) is a prefecture without counties, so it is its own county. Codes that
    name two different counties or cities resolve to None at that level.
    """
    lexicon = _region_lexicon()
    counties: set[str] = set()
    cities: set[str] = set()
    for code in codes:
        if not code or len(code) != 6 or code.endswith("0000"):
            continue
        if code.endswith("00"):
            cities.add(code[:4])
        else:
            counties.add(code)
            cities.add(lexicon.parent.get(code, code)[:4])
    county = next(iter(counties)) if len(counties) == 1 else None
    city = next(iter(cities)) if len(cities) == 1 else None
    if county is None and city is None and counties:
        # Two counties of one city (a county short form shared within the city) still name the city.
        parents = {lexicon.parent.get(c, c)[:4] for c in counties}
        city = next(iter(parents)) if len(parents) == 1 else None
    return county, city


# --- Names -----------------------------------------------------------------------


def clean_text(text: str | None) -> str | None:
    """Half-width, simplified, no spaces or punctuation, round brackets; None when empty."""
    if text is None:
        return None
    rules = name_rules()
    cleaned = to_simplified(to_halfwidth(str(text))).translate(_BRACKETS)
    cleaned = _SPACES.sub("", cleaned)
    cleaned = "".join(ch for ch in cleaned if ch not in rules.drop_chars)
    return cleaned or None


def _strip_legal_forms(text: str) -> tuple[str, str | None]:
    family = None
    stripped = True
    while stripped:
        stripped = False
        for suffix, suffix_family in name_rules().legal_forms:
            if text.endswith(suffix) and len(text) - len(suffix) >= MIN_CORE:
                text = text[: -len(suffix)]
                family = family or suffix_family  # the outermost form is the legal form
                stripped = True
                break
    return text, family


def _split_branch(text: str) -> tuple[str, str | None]:
    """(name, branch) for (二七店) / (金水分公司) / XX有限公司睢阳分公司 / 中原分店."""
    rules = name_rules()
    paren = _TRAILING_PAREN.match(text)
    if paren and len(paren.group(1)) >= MIN_CORE:
        inner = paren.group(2)
        if f"({inner})" in dict(rules.legal_forms):  # (有限合伙) is a legal form, not a branch
            return text, None
        return paren.group(1), inner or None
    for marker in rules.branch_markers:
        if marker == "店" or not text.endswith(marker):
            continue  # an unbracketed 店 ends most shop names: not a branch
        head = text[: -len(marker)]
        company = head.rfind("公司")
        if company >= 0 and company + 2 < len(head):
            base, place = head[: company + 2], head[company + 2:]
        else:
            place = next((p for p in (head[-3:], head[-2:]) if place_region_codes(p)), head[-2:])
            base = head[: -len(place)]
        if len(base) >= MIN_CORE:
            return base, place + marker
    return text, None


def _branch_place(branch: str) -> str:
    for marker in name_rules().branch_markers:
        if branch.endswith(marker):
            return branch[: -len(marker)]
    return branch


@lru_cache(maxsize=262144)
def parse_business_name(raw: str | None) -> BusinessName | None:
    """Split a business name into text, core, region, legal form and branch."""
    text = clean_text(raw)
    if not text:
        return None
    rest, branch = _split_branch(text)
    rest, family = _strip_legal_forms(rest)
    if branch and family is None:
        # 中原区小宋饺子馆中原分店: the branch came off first, a legal form may precede it.
        rest, family = _strip_legal_forms(rest)
    rest, codes = strip_region_prefix(rest)
    core, _ = _strip_legal_forms(rest)  # 河南XX中心(普通合伙): forms nested inside
    branch_codes = place_region_codes(_branch_place(branch)) if branch else ()
    return BusinessName(
        text=text,
        core=core,
        core_py=pinyin_key(core) or "",
        region_codes=codes,
        legal_family=family,
        branch=branch,
        branch_region_codes=branch_codes,
    )


@lru_cache(maxsize=262144)
def parse_address(raw: str | None) -> Address | None:
    """Region codes named at the front of an address and its road + house number key."""
    text = clean_text(raw)
    if not text:
        return None
    rest, codes = strip_region_prefix(text, min_rest=0)
    road = _ROAD.search(rest)
    if not road:
        return Address(codes, None, None)
    road_py = pinyin_key(road.group(1))
    return Address(codes, road_py, f"{road_py}{road.group(2)}")
