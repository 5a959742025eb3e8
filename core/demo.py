"""Demo data for the embedded default (``make run``): regions, officers, a citizen, a reporter."""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from PIL import Image, ImageDraw
from sqlalchemy import select

from core import clock, crypto
from core.accounts import services as accounts
from core.accounts.models import Officer, User
from core.accounts.services import citizen_actor
from core.actor import SYSTEM
from core.applications import services as applications
from core.applications.models import Application
from core.casework import services as casework
from core.casework.models import Case
from core.database import db
from core.exchange import catalogue as exchange_catalogue
from core.exchange import demo as exchange_demo
from core.identity import services as identity
from core.identity.providers import ConsoleIdentityService
from core.idnumber import make_id_number
from core.monitoring import demo as monitoring_demo
from core.regions import services as regions
from core.regions.models import Region
from core.registry import importer, rolls, synthetic
from core.registry.models import PaymentRoll
from core.reports import services as reports
from core.reports.models import Report

ID = identity.IdentitySettings()

DEMO_PASSWORD = "Demo-Password-2026"  # noqa: S105 - demo only; production refuses demo data
DEMO_OFFICERS = (
    ("minhe", "民和镇经办员", "township_officer", "360124100"),
    ("lidu", "李渡镇经办员", "township_officer", "360124101"),
    ("jinxian", "进贤县民政局审核员", "county_officer", "360124"),
    ("jinxian2", "进贤县民政局复核员", "county_officer", "360124"),  # the second officer who locks a roll
    ("jxdata", "进贤县民政局数据管理员", "data_officer", "360124"),  # department data (docs/exchange.md)
)
DEMO_COUNTY = "360124"
DEMO_REGISTER_HOUSEHOLDS = 3000
DEMO_REGISTER_SEED = 2026
DEMO_CITIZEN_PHONE = "13800000001"
DEMO_REPORTER_PHONE = "13800000002"


@dataclass(frozen=True)
class DemoLogin:
    username: str
    display_name: str
    role: str
    region_code: str
    totp_secret: str


def load(regions_dir: Path | None, progress: Callable[[str], None] | None = None) -> list[str]:
    """Create what is missing; returns what was done (idempotent). ``progress(text)`` hears each step."""
    say = progress or (lambda _text: None)
    done: list[str] = []
    if db.session.scalar(select(Region.code).where(Region.code == "360124100")) is None:
        if regions_dir and (regions_dir / "townships.csv").exists():
            expected = regions.count_csv_rows(regions_dir)
            seen: dict[str, int] = dict.fromkeys(expected, 0)
            say(f"regions: importing {sum(expected.values()):,} rows from {regions_dir}")

            def _rows(level: str, n: int) -> None:
                seen[level] += n
                say(f"regions: {level} {seen[level]:,}/{expected[level]:,}")

            regions.import_directory(regions_dir, progress=_rows)
            regions.load_demo_regions()  # adds the demo townships' villages
            done.append(f"regions imported from {regions_dir}")
        else:
            regions.load_demo_regions()
            done.append("demo regions subset loaded (Jiangxi, Jinxian county)")
    say("officers")
    for username, name, role, region in DEMO_OFFICERS:
        if db.session.scalar(select(Officer).where(Officer.username == username)) is None:
            accounts.create_officer(
                SYSTEM, username=username, password=DEMO_PASSWORD, role=role, region_code=region, display_name=name
            )
            done.append(f"officer {username} created")
    say("department data catalogue")
    if exchange_catalogue.install_defaults(SYSTEM):
        done.append("department data catalogue installed")
    say("citizen and grid worker (real-name verified)")
    citizen = db.session.scalar(select(User).where(User.phone == DEMO_CITIZEN_PHONE))
    if citizen is None:
        citizen = User(phone=DEMO_CITIZEN_PHONE)
        db.session.add(citizen)
        db.session.flush()
        identity.claim_and_verify(
            SYSTEM,
            citizen,
            "张三",
            make_id_number("360124", date(1968, 5, 12), 31),
            ConsoleIdentityService(),
            settings=ID,
        )
        done.append("citizen created")
    reporter = db.session.scalar(select(User).where(User.phone == DEMO_REPORTER_PHONE))
    if reporter is None:
        reporter = User(phone=DEMO_REPORTER_PHONE)
        db.session.add(reporter)
        db.session.flush()
        identity.claim_and_verify(
            SYSTEM,
            reporter,
            "李网格",
            make_id_number("360124", date(1985, 9, 3), 52),
            ConsoleIdentityService(),
            settings=ID,
        )
        accounts.grant_reporter_role(SYSTEM, reporter, "grid_worker", "360124100")
        done.append("reporter (grid worker) created")
    if db.session.scalar(select(Case.id).limit(1)) is None:
        for township, title in (("360124100", "演示：独居老人生活困难"), ("360124101", "演示：因病致贫家庭")):
            casework.open_case(
                SYSTEM,
                kind="demo",
                township_code=township,
                title=title,
                due_in_working_days=3,
                opened_by_user_id=citizen.id,
            )
        done.append("demo cases opened")
    if db.session.scalar(select(Application.id).limit(1)) is None:
        say("a submitted 低保 application with its materials")
        _demo_application(citizen)
        done.append("demo application submitted (低保, 民和镇)")
    say(f"register: {DEMO_REGISTER_HOUSEHOLDS:,} synthetic recipient households")
    result = load_register()
    if result.enrollments_new:
        done.append(
            f"demo register loaded: {result.households_new:,} households, {result.persons_new:,} persons, "
            f"{result.enrollments_new:,} enrollments (低保 and 特困, {result.total_monthly_amount:,.2f} 元/月)"
        )
    if db.session.scalar(select(PaymentRoll.id).where(PaymentRoll.county_code == DEMO_COUNTY).limit(1)) is None:
        say("payment rolls: this month's locked by two officers, next month's drafted")
        done.append(_demo_rolls())
    say("department exchange: a department, its key and a pushed cremation of a recipient")
    done.extend(exchange_demo.load(DEMO_COUNTY, "360124100"))
    if db.session.scalar(select(Report.id).limit(1)) is None:
        say("a report from the grid worker")
        reports.create_report(
            citizen_actor(reporter),
            {
                "category": "elderly_alone",
                "township_code": "360124100",
                "village_code": "360124100003",
                "urgency": "urgent",
                "person_name": "孙爷爷",
                "address": "苗圃社区3栋",
                "description": "独居，行动不便，冬天无取暖",
            },
            caps={"grid_worker": 50},
        )
        done.append("demo report filed by the grid worker")
    done.extend(filter(None, [monitoring_demo.load(DEMO_COUNTY, say)]))  # monitoring: loads → warnings
    return done


def _demo_rolls() -> str:
    """This month's roll drafted and submitted by one county officer and locked by the other (双人复核);
    next month's drafted as the beat job would, so the portal's 发放名册 shows both states."""
    drafter, approver = (
        accounts.officer_actor(db.session.scalar(select(Officer).where(Officer.username == name)))
        for name in ("jinxian", "jinxian2")
    )
    this_month = f"{clock.local_today():%Y-%m}"
    roll = rolls.draft_roll(DEMO_COUNTY, this_month, actor=drafter)
    db.session.flush()
    roll = rolls.submit(drafter, roll.id, version=roll.version)
    roll = rolls.lock(approver, roll.id, version=roll.version)
    upcoming = rolls.draft_roll(DEMO_COUNTY, rolls.next_month(), actor=SYSTEM)
    return (
        f"payment rolls: {roll.month} locked ({roll.payable_count:,} paid, {roll.total_amount:,.2f} 元), "
        f"{upcoming.month} drafted"
    )


def register_places(county_code: str = DEMO_COUNTY) -> list[synthetic.Place]:
    """The county's real townships and villages (a township without villages in the data: the township)."""
    rows = db.session.execute(
        select(Region.code, Region.name, Region.level, Region.parent_code)
        .where(Region.code.startswith(county_code), Region.level.in_(("township", "village")))
        .order_by(Region.code)
    ).all()
    with_villages = {r.parent_code for r in rows if r.level == "village"}
    places = [
        synthetic.Place(r.parent_code, r.code, urban=r.name.endswith("社区居委会"))
        for r in rows
        if r.level == "village"
    ]
    places += [
        synthetic.Place(r.code, None, urban=r.name.endswith(("街道", "管理委员会")))
        for r in rows
        if r.level == "township" and r.code not in with_villages
    ]
    return places


def load_register(households: int = DEMO_REGISTER_HOUSEHOLDS) -> importer.ImportResult:
    """The synthetic register of the demo county, through the import's set-based path (re-running adds
    nothing: the same seed gives the same heads, and the import finds their enrollments)."""
    today = date(2026, 12, 1)  # fixed, so that the households (ages, start months) are the same every run
    rows = synthetic.household_rows(
        register_places(), households, prefix6=DEMO_COUNTY, today=today, seed=DEMO_REGISTER_SEED
    )
    source = [
        importer.SourceRow(line, dict(zip(importer.HEADER_OF, row, strict=True))) for line, row in enumerate(rows, 2)
    ]
    return importer.import_rows(SYSTEM, source, DEMO_COUNTY, max_amount=importer.DEMO_MAX_AMOUNT, source_name="demo")


def _demo_application(citizen: User) -> None:
    """A submitted 低保 application with a two-person household and the required materials."""
    actor = citizen_actor(citizen)
    app = applications.create_draft(
        actor,
        citizen,
        "dibao",
        on_behalf_of=None,
        fields={
            "residence_township_code": "360124100",
            "residence_village_code": "360124100001",
            "residence_address": "进贤县民和镇岚湖社区2栋101",
            "hukou_township_code": "360124101",
            "hardship_reason": "本人患慢性病，配偶残疾，无稳定收入",
            "members": [
                {
                    "name": citizen.real_name,
                    "id_number": citizen.id_number,
                    "relation": "self",
                    "health": "chronic",
                    "employment": "unable",
                },
                {
                    "name": "王桂花",
                    "id_number": make_id_number("360124", date(1970, 2, 14), 62),
                    "relation": "spouse",
                    "health": "disabled",
                    "disability_grade": 2,
                    "employment": "unable",
                },
            ],
            "incomes": [{"category": "pension", "monthly_amount": "260.00", "member_index": 0}],
            "assets": [{"kind": "housing", "address": "进贤县民和镇岚湖社区2栋101", "area_sqm": "48.00"}],
        },
    )
    for material in ("id_card", "hukou"):
        image = Image.new("RGB", (320, 200), (235, 235, 235))
        ImageDraw.Draw(image).rectangle([20, 20, 300, 180], outline=(60, 60, 60), width=3)
        out = io.BytesIO()
        image.save(out, format="PNG")
        applications.add_attachment(
            actor, citizen, app, material, out.getvalue(), f"{material}.png", max_bytes=10 * 1024 * 1024
        )
    applications.submit(actor, citizen, app)


def logins() -> list[DemoLogin]:
    result = []
    for username, _, _, _ in DEMO_OFFICERS:
        officer = db.session.scalar(select(Officer).where(Officer.username == username))
        if officer is not None:
            result.append(
                DemoLogin(
                    officer.username,
                    officer.display_name,
                    officer.role,
                    officer.region_code or "",
                    crypto.decrypt(officer.totp_secret_encrypted),
                )
            )
    return result
