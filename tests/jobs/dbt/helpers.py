"""A small silver/xref-shaped lake for the dbt tests: a few named rows per feed.

Tables have exactly the columns and types of the contracts (docs/ARCHITECTURE.md):
`silver.<feed_id>` with the schema aliases typed as silver types them
(`regulake.normalize.spark_type`), silver's lineage, flags, `_record_key`,
`_version_rank` and `_is_current`; `gold.entity_xref` and `gold.enterprise_person`
as jobs/linking writes them. Dates are relative to today so "the last 12 months"
means something. The story each row tells is in the comments; tests/jobs/dbt asserts it.
"""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from pyspark.sql import DataFrame, SparkSession

from regulake.catalog import register_table
from regulake.config import Settings
from regulake.feeds import FeedSchema, load_feed
from regulake.identifiers import org_code_check_char, ric_check_char, uscc_check_char
from regulake.normalize import spark_type

TODAY = date.today()
NOW = datetime.combine(TODAY, datetime.min.time()) + timedelta(hours=9)
LINKED_AT = datetime(2024, 1, 1, 12, 0, 0)


def days_ago(n: int) -> date:
    return TODAY - timedelta(days=n)


def at(n_days_ago: int, hour: int = 9) -> datetime:
    return datetime.combine(days_ago(n_days_ago), datetime.min.time()) + timedelta(hours=hour)


def uscc(region: str, n: int) -> str:
    org = f"{n:08d}"
    first17 = f"91{region}{org}{org_code_check_char(org)}"
    return first17 + uscc_check_char(first17)


def ric(region: str, birth: str, seq: int) -> str:
    first17 = f"{region}{birth}{seq:03d}"
    return first17 + ric_check_char(first17)


# --- the enterprises ------------------------------------------------------------------
E1 = uscc("410102", 1)  # three versions, the middle one delivered last (late, out of order)
E2 = uscc("410105", 2)  # serious effective penalty + substantiated complaint: counted (金水区)
E3 = uscc("410105", 3)  # serious penalty revoked (撤销) + substantiated complaint: not counted
E4 = uscc("410102", 4)  # serious effective penalty, complaint not substantiated: not counted
E5 = uscc("410302", 5)  # serious penalty 400 days ago + substantiated complaint: not counted
E6 = uscc("410102", 6)  # revocation withdrawn (撤销 then 正常) + substantiated complaint: counted (中原区)
E7 = uscc("410183", 7)  # dropped from a later full register snapshot
ENTERPRISES = (E1, E2, E3, E4, E5, E6, E7)
EXPECTED_REGION_COUNTS = {"410102": 1, "410105": 1}

RIC_ZHANG = ric("410105", "19800101", 123)  # 张三 represents E2 and E6, and is a dishonest debtor
RIC_OFFICER_1 = ric("410102", "19850505", 456)
RIC_OFFICER_2 = ric("410103", "19900909", 789)
RIC_SUN = ric("410103", "19700303", 321)  # 孙七: a court record typed 法人 that carries a person's RIC
RICS = (RIC_ZHANG, RIC_OFFICER_1, RIC_OFFICER_2, RIC_SUN)
PERSON_NAMES = ("张三", "李四", "王五", "赵六", "王小明", "孙七")
CERT_1 = "41010001000001"
CERT_2 = "41010001000002"


@dataclass
class Version:
    """One silver row: schema aliases plus where it came from."""

    values: dict[str, Any]
    batch: str
    record_no: int = 1
    ingested_at: datetime = field(default_factory=lambda: LINKED_AT)
    is_current: bool | None = None  # None: the latest version is current
    promotion_seq: int = 0  # the silver promotion that wrote it


def _cast(value: Any, type_name: str) -> Any:
    if value is None:
        return None
    if type_name.startswith("decimal"):
        return Decimal(str(value))
    if type_name == "double":
        return float(value)
    return value


def _key_part(value: Any) -> str:
    if isinstance(value, list):
        return ";".join(value)
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return str(value)


def silver_frame(spark: SparkSession, schema: FeedSchema, versions: list[Version]) -> DataFrame:
    """Silver rows of `versions`: key, version rank (standard §2 order) and currency as silver sets them."""
    key_aliases = [schema.column(k).alias for k in schema.key]
    version_alias = schema.column(schema.version_column).alias
    types = {c.alias: spark_type(c) for c in schema.columns}
    keyed: dict[str, list[Version]] = {}
    for version in versions:
        record_key = "|".join(_key_part(version.values[a]) for a in key_aliases)
        keyed.setdefault(record_key, []).append(version)
    rows = []
    for record_key, group in keyed.items():
        ordered = sorted(group, key=lambda v: (v.values[version_alias], v.batch, v.record_no), reverse=True)
        for rank, version in enumerate(ordered, start=1):
            current = rank == 1 if version.is_current is None else version.is_current
            row = [_cast(version.values.get(c.alias), types[c.alias]) for c in schema.columns]
            raw = f"{schema.feed_id}|{record_key}|{version.batch}|{version.record_no}"
            row += [
                schema.feed_id, version.batch, "part-0001", version.record_no, version.ingested_at,
                hashlib.sha256(raw.encode()).hexdigest(), f"d-{version.batch}", {}, [], [], record_key,
                hashlib.sha256(f"{record_key}|{version.values}".encode()).hexdigest(), rank, current,
                version.batch, version.promotion_seq,
            ]
            rows.append(row)
    ddl = ", ".join(f"`{c.alias}` {types[c.alias]}" for c in schema.columns)
    ddl += (", _feed_id string, _batch_date string, _file_name string, _record_no int, _ingested_at timestamp, "
            "_record_hash string, _delivery_id string, _extra map<string,string>, _dq_flags array<string>, "
            "_outlier_flags array<string>, _record_key string, _content_hash string, _version_rank int, "
            "_is_current boolean, _last_seen_batch_date string, _promotion_seq bigint")
    return spark.createDataFrame(rows, ddl)


XREF_DDL = ("feed_id string, record_key string, entity_id string, match_method string, match_score double, "
            "_input_hash string, _run_id string, _linked_at timestamp")
PERSON_DDL = ("entity_id string, person_key string, key_method string, person_name string, person_ric string, "
              "role string, enterprises_represented bigint, ent_status string")


def xref_frame(spark: SparkSession, links: list[tuple], linked_at: datetime = LINKED_AT) -> DataFrame:
    """(feed_id, record_key, entity_id, match_method) rows as gold.entity_xref."""
    rows = [(f, k, e, m, None if m == "none" else 1.0, f"h-{k}", "run-1", linked_at) for f, k, e, m in links]
    return spark.createDataFrame(rows, XREF_DDL)


def write_table(spark: SparkSession, settings: Settings, layer: str, table: str, df: DataFrame,
                mode: str = "overwrite") -> None:
    df.write.format("delta").mode(mode).save(settings.table_path(layer, table))
    register_table(spark, settings.lake_root, layer, table)


def enterprise(uscc_: str, name: str, region: str, industry: str, updated: datetime, rep: str,
               rep_ric: str | None, **overrides: Any) -> dict[str, Any]:
    values = {
        "uscc": uscc_, "reg_no": None, "org_code": uscc_[8:17], "ent_name": name, "ent_type": "有限责任公司",
        "legal_rep_name": rep, "legal_rep_id_no": rep_ric, "reg_capital": 100.0,
        "establish_date": date(2015, 6, 1), "status": "存续", "region_code": region, "industry_code": industry,
        "address": f"{name}地址", "business_scope": "经营范围\n第二行", "key_field": None, "updated_at": updated,
    }
    values.update(overrides)
    return values


def penalty(decision_no: str, uscc_: str, severity: str, decided: date, status: str | None,
            updated: datetime, matter: str | None = "M001") -> dict[str, Any]:
    return {
        "decision_no": decision_no, "uscc": uscc_, "ent_name": f"企业{uscc_[-4:]}", "violation_type": "虚假宣传",
        "legal_basis": "《广告法》", "penalty_types": ["警告", "罚款"], "fine_amount": 5000.0,
        "confiscated_amount": None, "severity": severity, "decision_date": decided, "authority": "郑州市市场监督管理局",
        "authority_region_code": "410100", "matter_code": matter, "publicity_status": status, "updated_at": updated,
    }


def ticket(ticket_id: str, category: str, substantiated: bool | None, received: datetime) -> dict[str, Any]:
    return {
        "ticket_id": ticket_id, "received_at": received, "channel": "电话", "category": category,
        "target_name": "某商家", "target_address": "某路1号", "region_code": "410105",
        "content": f"市民王小明（电话13800000000）反映问题 {ticket_id}", "handling_dept": "SCJG",
        "closed_at": received + timedelta(hours=30), "satisfaction": "满意", "substantiated": substantiated,
        "updated_at": received + timedelta(days=2),
    }


def event(event_id: str, task_id: str, kind: str, when: datetime, deadline: date | None = None,
          subject: str | None = None, frm: str = "SCJG", to: str | None = "HB") -> dict[str, Any]:
    return {
        "event_id": event_id, "task_id": task_id, "event_type": kind, "from_dept": frm, "to_dept": to,
        "event_at": when, "subject_uscc": subject, "matter_code": "M001" if kind == "发起" else None,
        "deadline": deadline, "note": None,
    }


def officer(cert: str, name: str, ric_: str, status: str, updated: datetime) -> dict[str, Any]:
    return {
        "name": name, "id_no": ric_, "cert_no": cert, "dept_code": "SCJG", "dept_name": "市场监管局",
        "region_code": "410100", "fields": ["食品安全", "广告监管"], "status": status, "updated_at": updated,
    }


K1_START = datetime(2024, 3, 1, 9, 0, 0)


def silver_versions() -> dict[str, list[Version]]:
    """feed_id -> versions of the fixture lake."""
    return {
        "samr_enterprise": [
            Version(enterprise(E1, "郑州甲食品有限公司", "410102", "C13", at(800), "王五", None), "20240101"),
            Version(enterprise(E1, "郑州甲食品股份有限公司", "410102", "C13", at(100), "王五", None,
                               ent_type="股份有限公司"), "20240301"),
            # delivered last, but its updated_at puts it between the two above
            Version(enterprise(E1, "郑州甲食品有限公司", "410102", "C14", at(400), "王五", None), "20240401"),
            Version(enterprise(E2, "郑州乙贸易有限公司", "410105", "F51", at(700), "张三", RIC_ZHANG), "20240101"),
            Version(enterprise(E3, "郑州丙餐饮有限公司", "410105", "H62", at(700), "李四", None), "20240101", 2),
            Version(enterprise(E3, "郑州丙餐饮有限公司", "410105", "H62", at(200), "李四", None, status="注销"),
                    "20240301", 2),
            Version(enterprise(E4, "郑州丁建材有限公司", "410102", "C30", at(700), "赵六", None), "20240101", 3),
            Version(enterprise(E5, "洛阳戊化工有限公司", "410302", "C26", at(700), "赵六", None), "20240101", 4),
            Version(enterprise(E6, "郑州己超市有限公司", "410102", "F52", at(700), "张三", RIC_ZHANG), "20240101", 5),
            Version(enterprise(E7, "新密庚矿业有限公司", "410183", "B10", at(900), "赵六", None), "20240101", 6,
                    is_current=False),
        ],
        "samr_annual_report": [
            Version({"uscc": E1, "report_year": 2023, "submitted_at": at(300), "employees": 20,
                     "insured_employees": 18, "total_revenue": 120.5, "is_public": True, "updated_at": at(300)},
                    "20240301"),
        ],
        "samr_abnormal_list": [
            Version({"record_id": "A1", "uscc": E4, "ent_name": "郑州丁建材有限公司", "reason": "未按规定报送年度报告",
                     "listed_date": days_ago(200), "listed_authority": "中原区市场监管局", "removed_date": days_ago(100),
                     "removed_reason": "已补报", "updated_at": at(100)}, "20240301"),
            Version({"record_id": "A2", "uscc": E5, "ent_name": None, "reason": "通过登记的住所或经营场所无法联系",
                     "listed_date": days_ago(50), "listed_authority": None, "removed_date": None,
                     "removed_reason": None, "updated_at": at(50)}, "20240301", 2),
        ],
        "samr_penalty": [
            Version(penalty("P1", E2, "严重", days_ago(30), None, at(30)), "20240301"),
            Version(penalty("P2", E3, "严重", days_ago(60), "正常", at(60)), "20240301", 2),
            Version(penalty("P2", E3, "严重", days_ago(60), "撤销", at(20)), "20240302"),
            Version(penalty("P3", E4, "严重", days_ago(45), "正常", at(45)), "20240301", 3),
            Version(penalty("P4", E5, "严重", days_ago(400), None, at(400)), "20240101"),
            Version(penalty("P5", E6, "严重", days_ago(50), "撤销", at(50)), "20240301", 4),
            Version(penalty("P5", E6, "严重", days_ago(50), "正常", at(10)), "20240303"),
            Version(penalty("P6", E1, "较重", days_ago(20), None, at(20), matter=None), "20240301", 5),
            Version(penalty("P7", E4, "严重", days_ago(25), "删除", at(5)), "20240303", 2),
        ],
        "samr_inspection": [
            Version({"inspection_id": "I1", "task_id": "T-2024-1", "task_type": "双随机", "uscc": E1,
                     "ent_name": "郑州甲食品股份有限公司", "matter_code": "M001", "inspection_date": days_ago(100),
                     "inspector_cert_nos": [CERT_1, "41010001999999"], "result": "发现问题已责令改正",
                     "rectified_date": days_ago(50), "department_code": "SCJG", "updated_at": at(50)}, "20240301"),
            Version({"inspection_id": "I2", "task_id": "T-2024-1", "task_type": "双随机", "uscc": E2,
                     "ent_name": None, "matter_code": "M001", "inspection_date": days_ago(90),
                     "inspector_cert_nos": [CERT_1], "result": "未发现问题", "rectified_date": None,
                     "department_code": "SCJG", "updated_at": at(90)}, "20240301", 2),
            Version({"inspection_id": "I3", "task_id": "T-2024-2", "task_type": "投诉举报", "uscc": E3,
                     "ent_name": None, "matter_code": "M999", "inspection_date": days_ago(10),
                     "inspector_cert_nos": [CERT_2], "result": "发现问题待后续处理", "rectified_date": None,
                     "department_code": "SCJG", "updated_at": at(10)}, "20240301", 3),
        ],
        "tax_credit": [
            Version({"taxpayer_id": E1, "taxpayer_name": "郑州甲食品有限公司", "eval_year": 2023, "credit_grade": "A",
                     "arrears_amount": None, "updated_date": days_ago(300)}, "20240301"),
            Version({"taxpayer_id": E3, "taxpayer_name": "郑州丙餐饮有限公司", "eval_year": 2023, "credit_grade": "D",
                     "arrears_amount": 1000.0, "updated_date": days_ago(300)}, "20240301", 2),
        ],
        "hrss_social_insurance": [
            Version({"unit_code": E2, "unit_name": "郑州乙贸易有限公司", "period": "2024-03", "insured_count": 10,
                     "arrears_amount": 5000.0, "arrears_months": 2, "reported_at": at(60)}, "20240301"),
        ],
        "env_penalty": [
            Version({"case_no": "HB-1", "unit_code": E4[8:17], "unit_name": "郑州丁建材有限公司", "violation": "超标排放",
                     "fine": 10000.0, "decision_date": days_ago(80), "region_code": "410102", "severity": "严重",
                     "updated_at": at(80)}, "20240301"),
        ],
        "court_dishonest": [
            Version({"record_id": "D1", "case_code": "(2024)豫0105执1号", "party_name": "郑州丙餐饮有限公司",
                     "party_type": "法人", "party_id_no": E3, "court_name": "金水区人民法院",
                     "publish_date": days_ago(70), "performance_status": "全部未履行", "removed_date": None,
                     "updated_at": at(70)}, "20240301"),
            Version({"record_id": "D2", "case_code": "(2024)豫0105执2号", "party_name": "张三", "party_type": "自然人",
                     "party_id_no": RIC_ZHANG, "court_name": "金水区人民法院", "publish_date": days_ago(60),
                     "performance_status": "部分履行", "removed_date": None, "updated_at": at(60)}, "20240301", 2),
            Version({"record_id": "D3", "case_code": "(2024)豫0103执3号", "party_name": "孙七", "party_type": "法人",
                     "party_id_no": RIC_SUN, "court_name": "二七区人民法院", "publish_date": days_ago(50),
                     "performance_status": "全部未履行", "removed_date": None, "updated_at": at(50)}, "20240301", 3),
        ],
        "hotline_12345": [
            Version(ticket("H1", "投诉", True, at(30)), "20240301", 1),
            Version(ticket("H2", "举报", True, at(40)), "20240301", 2),
            Version(ticket("H3", "投诉", False, at(10)), "20240301", 3),
            Version(ticket("H4", "投诉", True, at(5)), "20240301", 4),
            Version(ticket("H5", "投诉", True, at(100)), "20240301", 5),
            Version(ticket("H6", "投诉", True, at(15)), "20240301", 6),
            Version(ticket("H7", "咨询", None, at(3)), "20240301", 7),  # names no registered business (yet)
        ],
        "sentiment": [
            Version({"item_id": "S1", "published_at": at(12), "source": "微博", "title": "某食品公司被曝光",
                     "mentioned_names": ["郑州甲食品", "某不知名小店"], "polarity": -0.6, "heat": 1200,
                     "updated_at": at(12)}, "20240301"),
        ],
        "matter_catalog": [
            Version({"matter_code": "M001", "main_item_code": "MI01", "main_item_name": "食品经营监督检查",
                     "sub_item_name": "食品销售者检查", "department_code": "SCJG", "object_type": ["法人", "其他组织"],
                     "legal_basis": "《食品安全法》", "level": "省级", "method": ["双随机", "重点监管"],
                     "updated_at": at(500)}, "20240101"),
            Version({"matter_code": "M002", "main_item_code": "MI02", "main_item_name": "排污监管",
                     "sub_item_name": "排污许可检查", "department_code": "HB", "object_type": ["法人"],
                     "legal_basis": None, "level": "市级", "method": ["专项检查"], "updated_at": at(500)},
                    "20240101", 2),
        ],
        "personnel": [
            Version(officer(CERT_1, "王小明", RIC_OFFICER_1, "在岗", at(400)), "20240101"),
            Version(officer(CERT_1, "王小明", RIC_OFFICER_1, "离岗", at(10)), "20240301"),
            Version(officer(CERT_2, "赵六", RIC_OFFICER_2, "在岗", at(400)), "20240101", 2, is_current=False),
        ],
        "coop_task_event": [
            # K1: dispatch (e2) is delivered after the handle event (e3) of an earlier batch
            Version(event("K1-e1", "K1", "发起", K1_START, deadline=date(2024, 3, 4), subject=E1, to=None),
                    "20240301"),
            Version(event("K1-e3", "K1", "办理", K1_START + timedelta(days=2, hours=1), frm="HB", to=None),
                    "20240301", 2),
            Version(event("K1-e2", "K1", "分发", K1_START + timedelta(days=1)), "20240303"),
            Version(event("K1-e5", "K1", "办结", K1_START + timedelta(days=4), frm="SCJG", to=None), "20240305"),
            Version(event("K1-e4", "K1", "反馈", K1_START + timedelta(days=3), frm="HB", to="SCJG"), "20240305", 2),
            # K2: only a dispatch so far; its initiate arrives in a later run
            Version(event("K2-e2", "K2", "分发", at(3), deadline=days_ago(-30)), "20240305", 3),
        ],
        "license": [
            Version({"license_no": "JY1", "license_type": "食品经营许可证", "holder_uscc": E1,
                     "holder_name": "郑州甲食品有限公司", "issuing_dept": "SCJG", "issue_date": days_ago(600),
                     "valid_until": days_ago(-400), "status": "有效", "updated_at": at(600)}, "20240101"),
        ],
    }


def xref_links() -> list[tuple]:
    """gold.entity_xref rows: (feed_id, record_key, entity_id, match_method)."""
    links = [("samr_enterprise", e, e, "uscc") for e in ENTERPRISES]
    links += [
        ("samr_annual_report", f"{E1}|2023", E1, "uscc"),
        ("samr_abnormal_list", "A1", E4, "uscc"), ("samr_abnormal_list", "A2", E5, "uscc"),
        ("samr_penalty", "P1", E2, "uscc"), ("samr_penalty", "P2", E3, "uscc"), ("samr_penalty", "P3", E4, "uscc"),
        ("samr_penalty", "P4", E5, "uscc"), ("samr_penalty", "P5", E6, "uscc"), ("samr_penalty", "P6", E1, "uscc"),
        ("samr_penalty", "P7", E4, "uscc"),
        ("samr_inspection", "I1", E1, "uscc"), ("samr_inspection", "I2", E2, "uscc"),
        ("samr_inspection", "I3", E3, "uscc"),
        ("tax_credit", f"{E1}|2023", E1, "uscc"), ("tax_credit", f"{E3}|2023", E3, "uscc"),
        ("hrss_social_insurance", f"{E2}|2024-03", E2, "uscc"),
        ("env_penalty", "HB-1", E4, "org_code"),
        ("court_dishonest", "D1", E3, "uscc"), ("court_dishonest", "D2", E6, "ric"),
        ("court_dishonest", "D3", None, "none"),
        ("hotline_12345", "H1", E2, "name_exact"), ("hotline_12345", "H2", E3, "name_fuzzy"),
        ("hotline_12345", "H3", E4, "name_exact"), ("hotline_12345", "H4", E5, "name_exact"),
        ("hotline_12345", "H5", E6, "name_exact"), ("hotline_12345", "H6", E6, "name_exact"),
        ("hotline_12345", "H7", None, "none"),
        ("sentiment", "S1|0", E1, "name_fuzzy"), ("sentiment", "S1|1", None, "none"),
        ("coop_task_event", "K1-e1", E1, "uscc"),
        ("license", "JY1", E1, "uscc"),
    ]
    return links


def enterprise_persons() -> list[tuple]:
    """gold.enterprise_person rows."""
    def row(entity: str, name: str, ric_: str | None, n: int, status: str = "存续") -> tuple:
        key = f"ric:{ric_}" if ric_ else f"name:{name}@{entity}"
        return (entity, key, "ric" if ric_ else "name", name, ric_, "legal_representative", n, status)

    return [
        row(E1, "王五", None, 1), row(E2, "张三", RIC_ZHANG, 2), row(E3, "李四", None, 1, "注销"),
        row(E4, "赵六", None, 1), row(E5, "赵六", None, 1), row(E6, "张三", RIC_ZHANG, 2), row(E7, "赵六", None, 1),
    ]


def build_fixture_lake(spark: SparkSession, settings: Settings) -> None:
    """Write every silver feed, gold.entity_xref and gold.enterprise_person into the lake."""
    tables = [("silver", feed_id, silver_frame(spark, load_feed(feed_id), versions))
              for feed_id, versions in silver_versions().items()]
    tables.append(("gold", "entity_xref", xref_frame(spark, xref_links())))
    tables.append(("gold", "enterprise_person", spark.createDataFrame(enterprise_persons(), PERSON_DDL)))
    # Tiny tables: the time is Delta commit latency, so write them side by side.
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(lambda t: t[2].coalesce(1).write.format("delta").mode("overwrite")
                      .save(settings.table_path(t[0], t[1])), tables))
    for layer, table, _ in tables:
        register_table(spark, settings.lake_root, layer, table)
