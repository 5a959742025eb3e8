"""Registry households with chosen birth dates, department pushes and monitoring set-up for the tests."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from core import clock
from core.actor import SYSTEM
from core.database import db
from core.exchange import ingest
from core.registry import services as registry
from core.registry.models import Household
from tests.exchange import factory
from tests.helpers import id_number

_seq = [100]


def household(township: str, members: list[tuple[str, date, str]], *, program: str = "dibao") -> list[str]:
    """An enrolled household; ``members``: (name, born, relation), the first is the head. Returns ID numbers."""
    _seq[0] += 1
    n = _seq[0]
    numbers, ids = [], []
    persons = []
    for k, (name, born, relation) in enumerate(members):
        number = id_number(born, (n * 7 + k) % 997 + 1, prefix=township[:6])
        person = registry.person_for(
            number,
            name,
            source_type="officer",
            source_id=f"mon-{n}",
            facts={"residence_township_code": township, "residence_village_code": None},
        )
        persons.append((person, relation))
        numbers.append(number)
    head = persons[0][0]
    hh = Household(
        head_person_id=head.id,
        residence_township_code=township,
        hukou_township_code=township,
        county_code=township[:6],
        source_type="officer",
        source_id=f"mon-{n}",
    )
    db.session.add(hh)
    db.session.flush()
    for person, relation in persons:
        registry.join_household(hh, person.id, relation, clock.local_today())
        ids.append((person.id, relation))
    registry.create(
        SYSTEM,
        decision_ref=f"mon:{n}",
        program=program,
        household_id=hh.id,
        person_id=head.id,
        member_ids=ids,
        amount=Decimal("600.00"),
        start_month=clock.local_today().strftime("%Y-%m"),
        township_code=township,
        village_code=None,
        payee_name=members[0][0],
        bank_account=None,
        bank_name=None,
        source_type="officer",
    )
    db.session.flush()
    return numbers


def department_client(categories: list[str], code: str = "jx-dept"):
    dept = factory.department(code=code)
    cl = factory.client(dept, categories, key_id=f"k-{code}")
    return dept, cl


def push(dept, cl, category: str, rows: list[dict], batch: str):
    actor = factory.department_actor(cl, dept)
    return ingest.ingest_rows(
        actor, category=category, rows=rows, batch_id=batch, department_id=dept.id, client_id=cl.id
    )
