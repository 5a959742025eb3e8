"""The relief programs and what each needs (labels from docs/vocabulary.md)."""

from __future__ import annotations

PROGRAMS: dict[str, dict[str, str]] = {
    "dibao": {"label": "最低生活保障", "short": "低保"},
    "tekun": {"label": "特困人员救助供养", "short": "特困"},
    "linshi": {"label": "临时救助", "short": "临时救助"},
    "yiliao": {"label": "医疗救助", "short": "医疗救助"},
}

MATERIALS: dict[str, str] = {
    "id_card": "居民身份证",
    "hukou": "户口簿",
    "income_proof": "收入证明",
    "medical_bills": "医疗费用票据",
    "disability_cert": "残疾证",
    "hardship_proof": "困难情况说明或证明",
    "proxy_proof": "代办委托或身份证明",
    "photo": "家庭生活照片",
    "other": "其他材料",
}

# National defaults; a county may set its own list (ProgramSetting.required_materials).
DEFAULT_REQUIRED_MATERIALS: dict[str, list[str]] = {
    "dibao": ["id_card", "hukou"],
    "tekun": ["id_card", "hukou"],
    "linshi": ["id_card", "hardship_proof"],
    "yiliao": ["id_card", "medical_bills"],
}


def program_label(code: str) -> str:
    return PROGRAMS.get(code, {}).get("label", code)
