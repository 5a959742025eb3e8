"""Roles and their region scope."""

from __future__ import annotations

OFFICER_ROLES = {
    "township_officer": ("乡镇（街道）经办人员", "township"),
    "county_officer": ("县级民政审核人员", "county"),
    "city_admin": ("市级管理员", "city"),
    "data_officer": ("数据管理员", "county"),  # department data: uploads, catalogue, look-ups (docs/exchange.md)
    "system_admin": ("系统管理员", None),
}
REPORTER_ROLES = {
    "grid_worker": "网格员",
    "volunteer": "志愿者",
    "social_worker": "社会工作者",
    "official": "公职人员（村社干部）",
}
CITIZEN_ROLE = "citizen"


def officer_region_level(role: str) -> str | None:
    return OFFICER_ROLES[role][1]
