"""The authorization letter (家庭经济状况核对授权书), versioned. A new version invalidates unsigned requests."""

from __future__ import annotations

import hashlib

PURPOSE = "家庭经济状况核对"
LETTERS = {
    "2026-01": (
        "本人自愿申请社会救助，并代表共同生活的家庭成员（或本人作为家庭成员）授权民政部门及其委托的核对机构，"
        "向公安、人力资源社会保障、住房城乡建设、自然资源、市场监管、税务、医保、公积金、金融机构、证券机构等"
        "单位查询、核对本人的户籍、收入、财产等信息。所获信息仅用于社会救助审核确认和动态管理，不作他用。"
        "本授权自签署之日起至救助终止后一年内有效。"
    ),
}
CURRENT_VERSION = "2026-01"
DATA_CATEGORIES = ["户籍", "收入", "财产（房产、车辆、存款、有价证券等）", "社会保险", "医疗保障", "公积金"]
VALIDITY = "自签署之日起至救助终止后一年内"


def letter_hash(version: str) -> str:
    return hashlib.sha256(f"{version}\n{LETTERS[version]}".encode()).hexdigest()
