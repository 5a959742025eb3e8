"""Demo data for the exchange: a department of the demo county with a signing key, and one death it
pushed about a recipient of the synthetic register, so that a newcomer sees a warning in the queue."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from core import clock, crypto
from core.database import db
from core.exchange import clients, events
from core.exchange.models import ApiClient, Department
from core.registry.models import Enrollment, Person

DEMO_DEPARTMENT = "jinxian-binzang"
DEMO_KEY_ID = "jinxian-binzang-demo"


@dataclass(frozen=True)
class DemoKey:
    key_id: str
    secret: str
    algorithm: str
    categories: list[str]


def load(county_code: str, township_code: str) -> list[str]:
    """Idempotent: nothing is added when the demo department exists."""
    if db.session.scalar(select(Department.id).where(Department.code == DEMO_DEPARTMENT)) is not None:
        return []
    department = Department(
        code=DEMO_DEPARTMENT, name="进贤县民政局殡葬管理所", kind="civil_affairs", region_code=county_code
    )
    db.session.add(department)
    db.session.flush()
    client = ApiClient(
        department_id=department.id,
        key_id=DEMO_KEY_ID,
        name="殡葬管理信息系统（演示）",
        algorithm="hmac-sha256",
        secret_enc=crypto.encrypt(crypto.random_token(24)),
        categories=["deaths", "cremations"],
        status="active",
    )
    db.session.add(client)
    db.session.flush()
    done = ["exchange: demo department and signing key (flask demo info shows it)"]
    row = db.session.execute(
        select(Enrollment, Person)
        .join(Person, Person.id == Enrollment.person_id)
        .where(Enrollment.township_code == township_code, Enrollment.status == "active")
        .order_by(Enrollment.id)
        .limit(1)
    ).first()
    if row is not None:
        _, person = row
        caller = clients.Caller(client, department, clients.department_actor(client, department))
        today = clock.local_today()
        events.receive(
            caller,
            [
                {
                    "event_id": "DEMO-CREMATION-0001",
                    "type": "cremation",
                    "id_number": person.id_number,
                    "date": today.isoformat(),
                    "name": person.name,
                    "place": "进贤县殡仪馆",
                }
            ],
        )
        done.append(f"exchange: a cremation of recipient {person.name[0]}** pushed: a red warning in the queue")
    return done


def key() -> DemoKey | None:
    client = db.session.scalar(select(ApiClient).where(ApiClient.key_id == DEMO_KEY_ID))
    if client is None:
        return None
    return DemoKey(client.key_id, crypto.decrypt(client.secret_enc), client.algorithm, list(client.categories or []))
