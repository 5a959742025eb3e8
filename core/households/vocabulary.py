"""Household vocabulary (codes -> Chinese labels), from docs/vocabulary.md."""

from __future__ import annotations

RELATIONS = {
    "self": "本人",
    "spouse": "配偶",
    "child": "子女",
    "parent": "父母",
    "sibling": "兄弟姐妹",
    "grandparent": "祖父母/外祖父母",
    "grandchild": "孙子女/外孙子女",
    "other": "其他",
}
HEALTH = {"healthy": "健康", "chronic": "患慢性病", "serious": "患重特大疾病", "disabled": "残疾"}
DISABILITY_GRADES = {1: "一级", 2: "二级", 3: "三级", 4: "四级"}
EMPLOYMENT = {
    "employed": "在业",
    "flexible": "灵活就业",
    "farming": "务农",
    "unemployed": "失业",
    "student": "在校学生",
    "retired": "退休",
    "unable": "丧失劳动能力",
}
INCOME_CATEGORIES = {
    "wages": "工资性收入",
    "farming": "农业生产收入",
    "business": "经营净收入",
    "property": "财产净收入",
    "pension": "养老金/离退休金",
    "support": "赡养费/扶养费/抚养费",
    "subsidy": "政策性补贴",
    "other": "其他收入",
}
ASSET_KINDS = {
    "housing": "住房",
    "non_residential": "非住房类房产",
    "car": "小汽车",
    "motorcycle": "摩托车",
    "disability_vehicle": "残疾人功能性补偿代步车",
    "deposit": "存款",
    "securities": "有价证券",
    "insurance": "商业保险",
}
PROXY_RELATIONS = {"relative": "亲属", "cadre": "村（社区）干部", "social_worker": "社会工作者", "other": "其他"}
PROXY_REASONS = {"elderly": "年老", "disabled": "残疾", "no_phone": "无智能手机", "illness": "患病", "other": "其他"}
