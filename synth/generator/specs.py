"""The 15 feeds of the data exchange standard (§4) as the generator and the conformance check see them.

Column order is the standard's; `required` marks R columns; `kind` is the value type the
generator formats and varies (§3). The business key is listed per feed. If
`schemas/<feed_id>.yaml` files exist they describe the same thing for the pipeline;
this table is deliberately small and only what the generator needs.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Column:
    name: str
    required: bool
    kind: str  # text uscc party_id unit_code taxpayer_id ric cert_list org_code reg_no region industry
    #            date timestamp year month int number amount amount_wan boolean enum list dept


@dataclass(frozen=True)
class Feed:
    feed_id: str
    fmt: str          # csv | jsonl | xlsx
    encoding: str     # utf-8 | utf-8-sig | gb18030
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    full: str         # "first" (first delivery full), "always" or "never"

    @property
    def ext(self) -> str:
        return self.fmt

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def required(self) -> list[str]:
        return [c.name for c in self.columns if c.required]

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


def _cols(spec: str) -> tuple[Column, ...]:
    """'name R kind, name O kind, ...' -> columns."""
    out = []
    for part in spec.split(","):
        name, req, kind = part.split()
        out.append(Column(name, req == "R", kind))
    return tuple(out)


FEEDS: dict[str, Feed] = {
    f.feed_id: f
    for f in (
        Feed("samr_enterprise", "csv", "utf-8", _cols(
            "uscc R uscc, reg_no O reg_no, org_code O org_code, ent_name R text, ent_type R enum,"
            "legal_rep_name R text, legal_rep_id_no O ric, reg_capital O amount_wan, establish_date R date,"
            "status R enum, region_code R region, industry_code R industry, address O text,"
            "business_scope O text, key_field O enum, updated_at R timestamp"), ("uscc",), "first"),
        Feed("samr_annual_report", "csv", "utf-8", _cols(
            "uscc R uscc, report_year R year, submitted_at R timestamp, employees O int,"
            "insured_employees O int, total_revenue O amount_wan, is_public O boolean, updated_at R timestamp"),
            ("uscc", "report_year"), "never"),
        Feed("samr_abnormal_list", "csv", "utf-8", _cols(
            "record_id R text, uscc R uscc, ent_name O text, reason R enum, listed_date R date,"
            "listed_authority O text, removed_date O date, removed_reason O text, updated_at R timestamp"),
            ("record_id",), "never"),
        Feed("samr_penalty", "csv", "utf-8", _cols(
            "decision_no R text, uscc R uscc, ent_name R text, violation_type R text, legal_basis O text,"
            "penalty_types R list, fine_amount O amount, confiscated_amount O amount, severity R enum,"
            "decision_date R date, authority R text, authority_region_code O region, matter_code O text,"
            "publicity_status O enum, updated_at R timestamp"), ("decision_no",), "never"),
        Feed("samr_inspection", "csv", "utf-8", _cols(
            "inspection_id R text, task_id R text, task_type R enum, uscc R uscc, ent_name O text,"
            "matter_code R text, inspection_date R date, inspector_cert_nos R cert_list, result R enum,"
            "rectified_date O date, department_code R dept, updated_at R timestamp"), ("inspection_id",), "never"),
        Feed("tax_credit", "csv", "gb18030", _cols(
            "纳税人识别号 R taxpayer_id, 纳税人名称 R text, 评价年度 R year, 信用级别 R enum, 欠税余额 O amount,"
            "更新日期 R date"), ("纳税人识别号", "评价年度"), "never"),
        Feed("hrss_social_insurance", "jsonl", "utf-8", _cols(
            "unit_code R unit_code, unit_name R text, period R month, insured_count O int,"
            "arrears_amount O amount, arrears_months O int, reported_at R timestamp"), ("unit_code", "period"), "never"),
        Feed("env_penalty", "jsonl", "utf-8", _cols(
            "case_no R text, unit_code R unit_code, unit_name R text, violation R text, fine O amount,"
            "decision_date R date, region_code O region, severity O enum, updated_at R timestamp"), ("case_no",), "never"),
        Feed("court_dishonest", "csv", "utf-8-sig", _cols(
            "record_id R text, case_code R text, party_name R text, party_type R enum, party_id_no O party_id,"
            "court_name R text, publish_date R date, performance_status R enum, removed_date O date,"
            "updated_at R timestamp"), ("record_id",), "never"),
        Feed("hotline_12345", "jsonl", "utf-8", _cols(
            "ticket_id R text, received_at R timestamp, channel O enum, category R enum, target_name O text,"
            "target_address O text, region_code O region, content O text, handling_dept O dept,"
            "closed_at O timestamp, satisfaction O enum, substantiated O boolean, updated_at R timestamp"),
            ("ticket_id",), "never"),
        Feed("sentiment", "jsonl", "utf-8", _cols(
            "item_id R text, published_at R timestamp, source R enum, title R text, mentioned_names O list,"
            "polarity O number, heat O int, updated_at R timestamp"), ("item_id",), "never"),
        Feed("matter_catalog", "csv", "utf-8", _cols(
            "matter_code R text, main_item_code R text, main_item_name R text, sub_item_name R text,"
            "department_code R dept, object_type R list, legal_basis O text, level R enum, method R list,"
            "updated_at R timestamp"), ("matter_code",), "always"),
        Feed("personnel", "xlsx", "utf-8", _cols(
            "姓名 R text, 身份证号 O ric, 执法证号 R cert, 部门编码 R dept, 部门名称 O text, 行政区划 R region,"
            "执法领域 O list, 状态 R enum, 更新时间 R timestamp"), ("执法证号",), "always"),
        Feed("coop_task_event", "jsonl", "utf-8", _cols(
            "event_id R text, task_id R text, event_type R enum, from_dept R dept, to_dept O dept, at R timestamp,"
            "subject_uscc O uscc, matter_code O text, deadline O date, note O text"), ("event_id",), "never"),
        Feed("license", "csv", "utf-8", _cols(
            "license_no R text, license_type R enum, holder_uscc R uscc, holder_name O text, issuing_dept R dept,"
            "issue_date R date, valid_until O date, status R enum, updated_at R timestamp"), ("license_no",), "never"),
    )
}

FEED_IDS: tuple[str, ...] = tuple(FEEDS)
