"""The 15 feeds of the data exchange standard (§4) as the generator and the conformance check see them.

Derived from `schemas/<feed_id>.yaml`, the pipeline's source of truth: a feed here *is* its
`regulake.feeds.FeedSchema` and its columns are `regulake.feeds.Column`s, so column order,
required columns, value types (with amount units and list item types), format, encoding,
business key and delivery modes are defined once. The generator formats, varies and breaks
values by the schema type (`Column.type`, one of `regulake.feeds.TYPES`).

What the schemas do not hold is kept here, small and explicit:

* `FEED_ORDER`: the standard's order of the feeds. The generator draws its random numbers
  feed by feed in this order (delivery defects, manifest times, truth order), so the order
  is part of what a seed produces.
* `GENERATED_TYPES` / `LIST_ITEM_TYPES`: the schema types the generator knows how to write,
  vary and break. A schema using any other type fails loudly at import.
"""

from __future__ import annotations

from collections.abc import Mapping

from regulake.feeds import FeedSchema, load_all_feeds

FEED_ORDER: tuple[str, ...] = (
    "samr_enterprise", "samr_annual_report", "samr_abnormal_list", "samr_penalty", "samr_inspection",
    "tax_credit", "hrss_social_insurance", "env_penalty", "court_dishonest", "hotline_12345", "sentiment",
    "matter_catalog", "personnel", "coop_task_event", "license",
)
GENERATED_TYPES: frozenset[str] = frozenset({
    "text", "uscc", "party_id", "unit_code", "taxpayer_id", "org_code", "reg_no", "ric", "cert_no",
    "region_code", "industry_code", "date", "timestamp", "year", "month", "int", "number",
    "amount", "boolean", "enum", "list", "dept_code",
})
# Items of a list column: free or fixed values (None) or certificate numbers.
LIST_ITEM_TYPES: frozenset[str | None] = frozenset({None, "cert_no"})


class UnsupportedFeedError(ValueError):
    """The schemas describe a feed or a column type the generator cannot produce."""


def derive_feeds(schemas: Mapping[str, FeedSchema], order: tuple[str, ...] = FEED_ORDER) -> dict[str, FeedSchema]:
    """{feed_id: schema} in the standard's order; raises if feeds or column types are not generatable."""
    missing, unknown = sorted(set(order) - set(schemas)), sorted(set(schemas) - set(order))
    if missing or unknown:
        raise UnsupportedFeedError(f"schemas and the generator's feed order differ: no schema for {missing}, "
                                   f"not generated {unknown}")
    for feed_id in order:
        for c in schemas[feed_id].columns:
            if c.type not in GENERATED_TYPES or (c.type == "list" and c.item_type not in LIST_ITEM_TYPES):
                item = f" of {c.item_type}" if c.item_type else ""
                raise UnsupportedFeedError(f"{feed_id}.{c.name}: the generator cannot produce type {c.type}{item}")
    return {feed_id: schemas[feed_id] for feed_id in order}


def full_delivery(feed: FeedSchema, batch):
    """Whether the delivery of (0-based) `batch` is a full snapshot, by the schema's `modes`:
    [full] every delivery, [full, incremental] the first, [incremental] none.

    `batch` may be an int (returns a bool) or an integer array (returns a bool or a bool array).
    """
    if "incremental" not in feed.modes:
        return True
    return "full" in feed.modes and batch == 0


def delivery_mode(feed: FeedSchema, batch: int) -> str:
    """The manifest `mode` of a feed's (0-based) `batch`."""
    return "full" if full_delivery(feed, batch) else "incremental"


FEEDS: dict[str, FeedSchema] = derive_feeds(load_all_feeds())
FEED_IDS: tuple[str, ...] = tuple(FEEDS)
