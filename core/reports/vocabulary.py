"""Report vocabulary (docs/vocabulary.md)."""

from __future__ import annotations

CATEGORIES = {
    "elderly_alone": "独居老人无人照料",
    "serious_illness": "重病或高额医疗支出",
    "disability": "残疾",
    "child_without_carer": "事实无人抚养儿童",
    "disaster_accident": "遭遇灾害或意外事故",
    "income_loss": "突发收入中断",
    "homeless": "流浪乞讨或无固定住所",
    "other": "其他困难",
}
REPORTER_ROLES = {
    "resident": "居民",
    "grid_worker": "网格员",
    "volunteer": "志愿者",
    "social_worker": "社会工作者",
    "official": "公职人员（村社干部）",
}
STATUSES = {"new": "待联系", "contacted": "已联系", "visited": "已走访", "closed": "已办结"}
OUTCOMES = {
    "referred_to_application": "已转入救助申请",
    "already_assisted": "已在保障范围",
    "not_eligible": "经核实不符合条件",
    "referred_elsewhere": "已转介相关部门",
    "unreachable": "无法联系",
}
URGENCY = {"urgent": "紧急", "normal": "一般"}
AGE_GROUPS = {"child": "未成年人", "adult": "成年人", "elderly": "老年人（60岁以上）", "unknown": "不清楚"}
COORDINATE_SYSTEMS = {"wgs84": "WGS-84（GPS）", "gcj02": "GCJ-02（国测局）"}

# The role sets the queue priority (higher first) and the daily cap.
ROLE_PRIORITY = {"official": 3, "grid_worker": 3, "social_worker": 2, "volunteer": 1, "resident": 0}
DEFAULT_DAILY_CAPS = {"resident": 3, "volunteer": 20, "social_worker": 50, "grid_worker": 50, "official": 50}


def parse_caps(text: str | None) -> dict[str, int]:
    """``"resident=3,grid_worker=50"`` -> caps; missing roles keep the defaults."""
    caps = dict(DEFAULT_DAILY_CAPS)
    for part in (text or "").split(","):
        if "=" in part:
            role, value = (p.strip() for p in part.split("=", 1))
            if role in caps:
                caps[role] = int(value)
    return caps
