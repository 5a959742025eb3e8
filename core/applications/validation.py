"""Full validation of an application at submit time: field-level Chinese messages.

Errors are nested like marshmallow's: ``{"members": {"1": {"id_number": ["…"]}}}``.
"""

from __future__ import annotations

from decimal import Decimal

from core.applications.models import Application
from core.applications.programs import MATERIALS
from core.households.vocabulary import ASSET_KINDS, EMPLOYMENT, HEALTH, INCOME_CATEGORIES, RELATIONS
from core.idnumber import validate_id_number
from core.regions.services import region_facts

NAME_MAX = 50
LEVEL_NOUNS = {"township": "乡镇（街道）", "village": "村（社区）"}


def _add(errors: dict, path: tuple[str, ...], message: str) -> None:
    node = errors
    for key in path[:-1]:
        node = node.setdefault(key, {})
    node.setdefault(path[-1], []).append(message)


def _region_error(code: str | None, level: str, label: str) -> str | None:
    if not code:
        return f"请选择{label}"
    region = region_facts(code)
    if region is None:
        return f"行政区划代码 {code} 不存在"
    if region.level != level:
        return f"{region.name}不是{LEVEL_NOUNS[level]}，请重新选择"
    return None


def validate_for_submit(app: Application, required_materials: list[str], present_materials: set[str]) -> dict:
    errors: dict = {}
    if not app.applicant_name:
        _add(errors, ("applicant_name",), "请填写申请人姓名")
    number, id_errors = validate_id_number(app.applicant_id_number or "")
    for message in id_errors:
        _add(errors, ("applicant_id_number",), message)

    for field, code, level, label in (
        ("residence_township_code", app.residence_township_code, "township", "居住地乡镇（街道）"),
        ("hukou_township_code", app.hukou_township_code, "township", "户籍地乡镇（街道）"),
    ):
        message = _region_error(code, level, label)
        if message:
            _add(errors, (field,), message)
    if app.residence_village_code:
        message = _region_error(app.residence_village_code, "village", "居住地村（社区）")
        if message:
            _add(errors, ("residence_village_code",), message)
        elif app.residence_village_code[:9] != app.residence_township_code:
            _add(errors, ("residence_village_code",), "所选村（社区）不属于所选乡镇（街道）")
    if not (app.residence_address or "").strip():
        _add(errors, ("residence_address",), "请填写居住地址")
    if not (app.hardship_reason or "").strip():
        _add(errors, ("hardship_reason",), "请说明申请救助的原因")

    if not app.members:
        _add(errors, ("members",), "请至少填写一名家庭成员（申请人本人）")
    seen: dict[str, int] = {}
    selves = 0
    for index, member in enumerate(app.members):
        key = str(index)
        if not (member.name or "").strip():
            _add(errors, ("members", key, "name"), "请填写姓名")
        normalized, messages = validate_id_number(member.id_number or "")
        for message in messages:
            _add(errors, ("members", key, "id_number"), message)
        if not messages:
            if normalized in seen:
                _add(errors, ("members", key, "id_number"), f"与第{seen[normalized] + 1}位家庭成员的身份证号码重复")
            seen.setdefault(normalized, index)
        if member.relation not in RELATIONS:
            _add(errors, ("members", key, "relation"), "请选择与申请人的关系")
        elif member.relation == "self":
            selves += 1
            if not messages and normalized != number:
                _add(errors, ("members", key, "id_number"), "“本人”的身份证号码应与申请人一致")
        if member.health not in HEALTH:
            _add(errors, ("members", key, "health"), "请选择健康状况")
        elif member.health == "disabled" and member.disability_grade not in (1, 2, 3, 4):
            _add(errors, ("members", key, "disability_grade"), "请选择残疾等级")
        if member.employment not in EMPLOYMENT:
            _add(errors, ("members", key, "employment"), "请选择就业状况")
    if app.members and selves != 1:
        _add(errors, ("members",), "家庭成员中应有且只有一位“本人”（申请人）")

    for index, income in enumerate(app.incomes):
        key = str(index)
        if income.category not in INCOME_CATEGORIES:
            _add(errors, ("incomes", key, "category"), "请选择收入类别")
        if income.monthly_amount is None or Decimal(income.monthly_amount) < 0:
            _add(errors, ("incomes", key, "monthly_amount"), "月收入不能为负数")
        if income.member_index is not None and not 0 <= income.member_index < len(app.members):
            _add(errors, ("incomes", key, "member_index"), "所选家庭成员不存在")
    for index, asset in enumerate(app.assets):
        key = str(index)
        if asset.kind not in ASSET_KINDS:
            _add(errors, ("assets", key, "kind"), "请选择财产类别")
        for field in ("area_sqm", "value_yuan"):
            value = getattr(asset, field)
            if value is not None and Decimal(value) < 0:
                _add(errors, ("assets", key, field), "不能为负数")
        if asset.kind in ("housing", "non_residential") and not (asset.address or "").strip():
            _add(errors, ("assets", key, "address"), "请填写房产地址")

    missing = [MATERIALS[m] for m in required_materials if m not in present_materials]
    if missing:
        _add(errors, ("attachments",), "缺少必需材料：" + "、".join(missing))
    return errors
