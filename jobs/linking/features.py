"""Name, address and region features of mentions and enterprises, and blocking keys.

Both sides get the same columns (Splink's link_only needs it): the parsed name
(`regulake.names`), the region evidence resolved to a county and a city, the road +
house number key, and the blocking keys. Parsing runs in one Arrow UDF per side;
everything else is Spark SQL.

Region evidence of a mention, most reliable first: the record's region code, the
regions its address names, the regions its name starts with, the court's region
(case code), the registering authority of an old registration number, the place of
a branch suffix ((义马店) is in 义马市). An enterprise's region is its registered
region_code.
"""

from __future__ import annotations

import pandas as pd
from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql.types import StringType, StructField, StructType

from regulake.names import parse_address, parse_business_name, resolve_region

FEATURE_COLUMNS = (
    "unique_id", "name_text", "core", "core_py", "trade", "legal_family",
    "county", "city", "road_py", "addr_key", "reg_no",
)
_PARSED_FIELDS = (
    "name_text", "core", "core_py", "trade", "legal_family", "name_county", "name_city",
    "branch_county", "branch_city", "addr_county", "addr_city", "road_py", "addr_key",
)
# A StructType, not a DDL string: workers re-import this module without a session.
_PARSED = StructType([StructField(name, StringType()) for name in _PARSED_FIELDS])


def _parse_one(name: str | None, address: str | None) -> dict:
    parsed = parse_business_name(name)
    addr = parse_address(address)
    out: dict = {}
    if parsed:
        out.update(name_text=parsed.text, core=parsed.core, core_py=parsed.core_py, trade=parsed.trade,
                   legal_family=parsed.legal_family)
        out["name_county"], out["name_city"] = resolve_region(parsed.region_codes)
        out["branch_county"], out["branch_city"] = resolve_region(parsed.branch_region_codes)
    if addr:
        out["addr_county"], out["addr_city"] = resolve_region(addr.region_codes)
        out.update(road_py=addr.road_py, addr_key=addr.addr_key)
    return out


# Not decorated at import: PySpark builds a classic or a Spark Connect UDF depending on the session
# that exists when the UDF is made, so it is made where it is used.
def _parse(names: pd.Series, addresses: pd.Series) -> pd.DataFrame:
    rows = [_parse_one(n if isinstance(n, str) else None, a if isinstance(a, str) else None)
            for n, a in zip(names, addresses, strict=True)]
    # Column by column: a field no row has must be None, not a float NaN column.
    return pd.DataFrame({field: [row.get(field) for row in rows] for field in _PARSED_FIELDS})


def county_of(code: Column) -> Column:
    """A 6-digit code below prefecture level (410105, 419001), else null."""
    return F.when(code.rlike(r"^\d{6}$") & (F.substring(code, 5, 2) != "00"), code)


def city_of(code: Column) -> Column:
    return F.when(code.rlike(r"^\d{6}$") & ~code.endswith("0000"), F.substring(code, 1, 4))


def mention_features(mentions: DataFrame) -> DataFrame:
    """FEATURE_COLUMNS of the mentions that go to name linking (unique_id = mention_id).

    Expects mention columns plus `id_region` and `id_value`/`id_kinds` from
    `deterministic.identifier_outcome`.
    """
    parsed = mentions.withColumn("_p", F.pandas_udf(_parse, _PARSED)(F.col("name"), F.col("address")))
    sources = [
        (county_of(F.col("region_code")), city_of(F.col("region_code"))),
        (F.col("_p.addr_county"), F.col("_p.addr_city")),
        (F.col("_p.name_county"), F.col("_p.name_city")),
        (county_of(F.col("court_region")), city_of(F.col("court_region"))),
        (county_of(F.col("id_region")), city_of(F.col("id_region"))),
        (F.col("_p.branch_county"), F.col("_p.branch_city")),
    ]
    county = F.coalesce(*[c for c, _ in sources])
    # The city of the chosen county first, so county and city never disagree.
    city = F.coalesce(F.substring(county, 1, 4), *[c for _, c in sources])
    reg_no = F.when(F.array_contains("id_kinds", "reg_no"), F.col("id_value"))
    return parsed.select(
        F.col("mention_id").alias("unique_id"),
        *[F.col(f"_p.{c}").alias(c) for c in ("name_text", "core", "core_py", "trade", "legal_family")],
        county.alias("county"),
        city.alias("city"),
        F.col("_p.road_py").alias("road_py"),
        F.col("_p.addr_key").alias("addr_key"),
        reg_no.alias("reg_no"),
    ).where(F.col("core").isNotNull())


def enterprise_features(enterprises: DataFrame) -> DataFrame:
    """FEATURE_COLUMNS of the enterprises (unique_id = USCC)."""
    parsed = enterprises.withColumn("_p", F.pandas_udf(_parse, _PARSED)(F.col("ent_name"), F.col("address")))
    return parsed.select(
        F.col("uscc").alias("unique_id"),
        *[F.col(f"_p.{c}").alias(c) for c in ("name_text", "core", "core_py", "trade", "legal_family")],
        county_of(F.col("region_code")).alias("county"),
        city_of(F.col("region_code")).alias("city"),
        F.col("_p.road_py").alias("road_py"),
        F.col("_p.addr_key").alias("addr_key"),
        F.upper(F.regexp_replace("reg_no", r"[\s\-_]", "")).alias("reg_no"),
    ).where(F.col("core").isNotNull())


def _key(parts: tuple[str, ...]) -> Column:
    if len(parts) == 1:
        return F.col(parts[0])
    pieces: list[Column] = []
    for i, part in enumerate(parts):
        pieces += [F.lit("|"), F.col(part)] if i else [F.col(part)]
    return F.concat(*pieces)  # null when any part is null: no city, no city key


BLOCKING_KEY_COLUMNS: dict[str, tuple[str, ...]] = {
    "bk_name": ("name_text",),
    "bk_core": ("core",),
    "bk_core_py": ("core_py",),
    "bk_core_city": ("core", "city"),
    "bk_trade": ("trade",),
    "bk_trade_city": ("trade", "city"),
    "bk_addr": ("city", "addr_key"),
}


def with_blocking_keys(features: DataFrame, keys: tuple[str, ...]) -> DataFrame:
    """Add the configured blocking key columns (null where a part is null)."""
    unknown = set(keys) - set(BLOCKING_KEY_COLUMNS)
    if unknown:
        raise ValueError(f"unknown blocking keys {sorted(unknown)}; known: {sorted(BLOCKING_KEY_COLUMNS)}")
    for key in keys:
        features = features.withColumn(key, _key(BLOCKING_KEY_COLUMNS[key]))
    return features


def cap_blocks(enterprise_keys: DataFrame, keys: tuple[str, ...], max_block: int) -> DataFrame:
    """Null an enterprise's key where more than `max_block` enterprises share the value.

    A mention then meets at most max_block enterprises per key, so candidate pairs
    grow linearly with mentions whatever the register's size; a generic value
    (小王超市 across the province) is left to the narrower keys (小王超市 in one city).
    """
    for key in keys:
        size = F.count(F.col(key)).over(Window.partitionBy(key))
        enterprise_keys = enterprise_keys.withColumn(key, F.when(size <= max_block, F.col(key)))
    return enterprise_keys
