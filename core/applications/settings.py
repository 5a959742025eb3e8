"""Per-county program settings: local 低保 standard, required materials, limits, delegation."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path

from sqlalchemy import select

from core.actor import Actor
from core.applications.models import ProgramSetting
from core.applications.programs import DEFAULT_REQUIRED_MATERIALS, MATERIALS, PROGRAMS
from core.audit import services as audit
from core.database import db
from core.errors import ValidationFailed
from core.regions.models import Region


@dataclass(frozen=True)
class EffectiveSettings:
    program: str
    county_code: str
    enabled: bool
    monthly_standard: Decimal | None
    required_materials: list[str]
    asset_limits: dict
    confirmation_delegated: bool
    appraisal_enabled: bool
    accept_working_days: int


# The national default acceptance limit (working days) where a county has set none: installed from the
# configuration (DEFAULT_ACCEPT_WORKING_DAYS) by core.setup — the one place that reads it.
_defaults = {"accept_working_days": 3}


def configure(*, default_accept_days: int) -> None:
    _defaults["accept_working_days"] = default_accept_days


def effective(county_code: str, program: str) -> EffectiveSettings:
    row = db.session.scalar(
        select(ProgramSetting).where(ProgramSetting.county_code == county_code, ProgramSetting.program == program)
    )
    return EffectiveSettings(
        program=program,
        county_code=county_code,
        enabled=row.enabled if row else True,
        monthly_standard=row.monthly_standard if row else None,
        required_materials=list(row.required_materials)
        if row and row.required_materials is not None
        else list(DEFAULT_REQUIRED_MATERIALS[program]),
        asset_limits=dict(row.asset_limits or {}) if row else {},
        confirmation_delegated=row.confirmation_delegated if row else False,
        appraisal_enabled=bool(row.appraisal_enabled) if row else False,
        accept_working_days=(
            row.accept_working_days if row and row.accept_working_days else _defaults["accept_working_days"]
        ),
    )


def programs_for_region(region_code: str) -> list[dict]:
    region = db.session.get(Region, region_code)
    if region is None:
        raise ValidationFailed(errors={"region": [f"行政区划代码 {region_code} 不存在"]})
    if len(region_code) < 6:
        raise ValidationFailed(errors={"region": ["请选择县级或以下的行政区划"]})
    county = region_code[:6]
    result = []
    for code, labels in PROGRAMS.items():
        s = effective(county, code)
        if not s.enabled:
            continue
        result.append(
            {
                "program": code,
                "label": labels["label"],
                "short": labels["short"],
                "county_code": county,
                "monthly_standard": s.monthly_standard,
                "required_materials": [{"code": m, "label": MATERIALS[m]} for m in s.required_materials],
                "asset_limits": s.asset_limits,
                "confirmation_delegated": s.confirmation_delegated,
                "accept_working_days": s.accept_working_days,
            }
        )
    return result


def set_program_setting(
    actor: Actor,
    county_code: str,
    program: str,
    *,
    monthly_standard: Decimal | None = None,
    required_materials: list[str] | None = None,
    confirmation_delegated: bool | None = None,
    appraisal_enabled: bool | None = None,
    accept_working_days: int | None = None,
    enabled: bool | None = None,
    field_prefix: str = "",
) -> ProgramSetting:
    errors: dict[str, list[str]] = {}
    region = db.session.get(Region, county_code)
    if region is None or region.level != "county":
        errors[f"{field_prefix}county_code"] = [f"{county_code} 不是县级行政区划代码"]
    if program not in PROGRAMS:
        errors[f"{field_prefix}program"] = ["救助项目应为：" + "、".join(PROGRAMS)]
    if monthly_standard is not None and (monthly_standard < 0 or monthly_standard > 100000):
        errors[f"{field_prefix}monthly_standard"] = ["保障标准应在0到100000元之间"]
    if required_materials is not None:
        unknown = [m for m in required_materials if m not in MATERIALS]
        if unknown:
            errors[f"{field_prefix}required_materials"] = ["未知的材料类别：" + "、".join(unknown)]
    if accept_working_days is not None and not 1 <= accept_working_days <= 30:
        errors[f"{field_prefix}accept_working_days"] = ["受理时限应为1到30个工作日"]
    if errors:
        raise ValidationFailed(errors=errors)
    row = db.session.scalar(
        select(ProgramSetting).where(ProgramSetting.county_code == county_code, ProgramSetting.program == program)
    )
    before = {}
    if row is None:
        row = ProgramSetting(
            county_code=county_code,
            program=program,
            enabled=True,
            confirmation_delegated=False,
            appraisal_enabled=False,
        )
        db.session.add(row)
    else:
        before = {
            "monthly_standard": row.monthly_standard,
            "required_materials": row.required_materials,
            "confirmation_delegated": row.confirmation_delegated,
            "appraisal_enabled": row.appraisal_enabled,
            "accept_working_days": row.accept_working_days,
            "enabled": row.enabled,
        }
    for field, value in (
        ("monthly_standard", monthly_standard),
        ("required_materials", required_materials),
        ("confirmation_delegated", confirmation_delegated),
        ("appraisal_enabled", appraisal_enabled),
        ("accept_working_days", accept_working_days),
        ("enabled", enabled),
    ):
        if value is not None:
            setattr(row, field, value)
    db.session.flush()
    after = {
        "monthly_standard": row.monthly_standard,
        "required_materials": row.required_materials,
        "confirmation_delegated": row.confirmation_delegated,
        "appraisal_enabled": row.appraisal_enabled,
        "accept_working_days": row.accept_working_days,
        "enabled": row.enabled,
    }
    audit.record(
        actor, "program_setting.set", row, region=county_code, changes=audit.diff(before, after), program=program
    )
    return row


COLUMNS = (
    "county_code",
    "program",
    "monthly_standard",
    "required_materials",
    "confirmation_delegated",
    "appraisal_enabled",
    "accept_working_days",
    "enabled",
)


def read_settings_file(path: Path) -> list[dict]:
    """Rows of a CSV or Excel (.xlsx) sheet with the COLUMNS headers (Chinese-friendly values)."""
    if path.suffix.lower() == ".xlsx":
        from openpyxl import load_workbook

        sheet = load_workbook(path, read_only=True, data_only=True).active
        rows = list(sheet.iter_rows(values_only=True))
        header = [str(h).strip() if h is not None else "" for h in rows[0]]
        records = [dict(zip(header, r, strict=False)) for r in rows[1:] if any(v is not None for v in r)]
    else:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            records = list(csv.DictReader(fh))
    missing = [c for c in ("county_code", "program") if records and c not in records[0]]
    if missing:
        raise ValidationFailed(f"缺少列：{'、'.join(missing)}")
    return records


def _parse_bool(value: object) -> bool | None:
    if value in (None, ""):
        return None
    text = str(value).strip().lower()
    if text in {"1", "true", "yes", "是", "y"}:
        return True
    if text in {"0", "false", "no", "否", "n"}:
        return False
    raise ValueError(text)


def import_settings(actor: Actor, records: list[dict]) -> int:
    """Apply every row or none: errors are keyed by row number (``row 3.monthly_standard``)."""
    errors: dict[str, list[str]] = {}
    for n, record in enumerate(records, start=2):
        prefix = f"第{n}行."
        try:
            standard = record.get("monthly_standard")
            standard = Decimal(str(standard).strip()) if standard not in (None, "") else None
            materials = record.get("required_materials")
            materials = (
                [m.strip() for m in str(materials).replace("；", ";").split(";") if m.strip()]
                if materials not in (None, "")
                else None
            )
            days = record.get("accept_working_days")
            days = int(days) if days not in (None, "") else None
            set_program_setting(
                actor,
                str(record.get("county_code") or "").strip(),
                str(record.get("program") or "").strip(),
                monthly_standard=standard,
                required_materials=materials,
                confirmation_delegated=_parse_bool(record.get("confirmation_delegated")),
                appraisal_enabled=_parse_bool(record.get("appraisal_enabled")),
                accept_working_days=days,
                enabled=_parse_bool(record.get("enabled")),
                field_prefix=prefix,
            )
        except ValidationFailed as err:
            errors.update(err.errors)
        except (InvalidOperation, ValueError):
            errors.setdefault(f"{prefix}row", []).append("数值格式不正确")
    if errors:
        raise ValidationFailed("导入失败，未做任何修改", errors=errors)
    return len(records)
