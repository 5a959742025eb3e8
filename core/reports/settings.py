"""Per-county first-contact deadlines of reports (working days, urgent and normal)."""

from __future__ import annotations

from core.actor import Actor
from core.audit import services as audit
from core.database import db
from core.errors import ValidationFailed
from core.regions.models import Region
from core.reports.models import ReportSetting


def contact_days(county_code: str, urgency: str) -> int:
    row = db.session.get(ReportSetting, county_code)
    if urgency == "urgent":
        return row.urgent_days if row else 1
    return row.normal_days if row else 3


def set_contact_days(actor: Actor, county_code: str, urgent_days: int, normal_days: int) -> ReportSetting:
    region = db.session.get(Region, county_code)
    errors: dict[str, list[str]] = {}
    if region is None or region.level != "county":
        errors["county_code"] = [f"{county_code} 不是县级行政区划代码"]
    if not 1 <= urgent_days <= 10:
        errors["urgent_days"] = ["紧急报告的首次联系时限应为1到10个工作日"]
    if not 1 <= normal_days <= 15:
        errors["normal_days"] = ["一般报告的首次联系时限应为1到15个工作日"]
    if errors:
        raise ValidationFailed(errors=errors)
    row = db.session.get(ReportSetting, county_code) or ReportSetting(county_code=county_code)
    row.urgent_days, row.normal_days = urgent_days, normal_days
    db.session.add(row)
    audit.record(
        actor,
        "report_setting.set",
        ("report_settings", county_code),
        region=county_code,
        urgent_days=urgent_days,
        normal_days=normal_days,
    )
    return row
