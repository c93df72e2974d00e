"""regulake.names: the forms citizens write business names in, parsed to comparable parts."""

from __future__ import annotations

import pytest

from regulake.names import clean_text, parse_address, parse_business_name, pinyin_key, resolve_region


@pytest.mark.parametrize(
    ("raw", "core", "regions", "family", "branch"),
    [
        ("郑州市荣华数据科技有限公司", "荣华数据科技", ("410100",), "company", None),
        ("郑州荣华数据科技有限责任公司", "荣华数据科技", ("410100",), "company", None),
        ("河南省建耀商业管理有限公司", "建耀商业管理", ("410000",), "company", None),
        ("登封龙丰安装工程有限公司", "龙丰安装工程", ("410185",), "company", None),  # county short form
        ("济源阳豫置业有限公司", "阳豫置业", ("419001",), "company", None),
        ("信立企业管理中心(普通合伙)", "信立企业管理", (), "partnership", None),
        ("管城回族区陈雪便利店", "陈雪便利店", ("410104",), None, None),
        ("三门峡创东佳酒店(义马店)", "创东佳酒店", ("411200",), None, "义马店"),
        ("二七区小蒋理发店(长江路店)", "小蒋理发店", ("410103",), None, "长江路店"),
        ("商丘雅泰健康管理有限公司睢阳分公司", "雅泰健康管理", ("411400",), "company", "睢阳分公司"),
        ("中原区小宋饺子馆中原分店", "小宋饺子馆", ("410102",), None, "中原分店"),
        ("金水区锐林贸易服务部金水分公司", "锐林贸易", ("410105",), "sole", "金水分公司"),
    ],
)
def test_parse_business_name_splits_region_legal_form_and_branch(raw, core, regions, family, branch):
    parsed = parse_business_name(raw)
    assert (parsed.core, parsed.region_codes, parsed.legal_family, parsed.branch) == (core, regions, family, branch)


def test_district_short_forms_are_not_stripped_from_the_front():
    # 中原 is 中原区's short form but also a brand: 信阳市中原供应链 is in Xinyang.
    parsed = parse_business_name("信阳市中原供应链有限责任公司")
    assert parsed.core == "中原供应链"
    assert parsed.region_codes == ("411500",)


def test_branch_place_names_its_county():
    assert parse_business_name("周口凤俊装饰工程(沈丘店)").branch_region_codes == ("411624",)
    assert parse_business_name("荣华超市(惠济分公司)").branch_region_codes == ("410108",)
    assert parse_business_name("二七区小蒋理发店(长江路店)").branch_region_codes == ()


def test_traditional_and_fullwidth_forms_normalise_to_the_registered_text():
    registered = parse_business_name("郑州程新丰清洁服务有限公司")
    assert parse_business_name("鄭州程新豐清潔服務有限公司").text == registered.text
    assert parse_business_name("　郑州程新丰清洁服务有限公司（ ）").core == registered.core
    assert clean_text(" 郑州 程新丰 ") == "郑州程新丰"


def test_homophone_typos_share_the_pinyin_key_but_look_alike_swaps_do_not():
    registered = parse_business_name("郑州鑫源数据科技有限公司")
    homophone = parse_business_name("郑州新元数据科技有限公司")  # 鑫→新, 源→元
    decoy = parse_business_name("郑州鑫源信据科技有限公司")  # 数→信: another business
    assert homophone.core != registered.core
    assert homophone.core_py == registered.core_py
    assert decoy.core_py != registered.core_py


def test_pinyin_key_is_per_character_and_none_for_empty():
    assert pinyin_key("红旗露") == pinyin_key("红旗路") == "hongqilu"
    assert pinyin_key("") is None


@pytest.mark.parametrize(
    ("raw", "county", "city", "addr_key"),
    [
        ("河南省郑州市金水区农科路359号", "410105", "4101", "nongkelu359"),
        ("浉河区红旗露141号", "411502", "4115", "hongqilu141"),  # 露: the usual typo of 路
        ("郑州市中牟县航海路392号3层", "410122", "4101", "hanghailu392"),
        ("南大街96号绿地大厦9号楼904室", None, None, "nandajie96"),
        ("开封市龙亭区", "410202", "4102", None),
    ],
)
def test_parse_address_gives_regions_and_road_key(raw, county, city, addr_key):
    address = parse_address(raw)
    assert resolve_region(address.region_codes) == (county, city)
    assert address.addr_key == addr_key


def test_resolve_region_prefers_the_county_and_refuses_conflicts():
    assert resolve_region(("410100", "410105")) == ("410105", "4101")
    assert resolve_region(("419001",)) == ("419001", "4190")
    assert resolve_region(("410105", "410202")) == (None, None)
    assert resolve_region(("410000",)) == (None, None)


def test_empty_names_parse_to_none():
    assert parse_business_name(None) is None
    assert parse_business_name("  ") is None
    assert parse_address("") is None
