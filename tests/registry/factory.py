"""Registry test data made through the registry's own services (persons, households, enrollments)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from core import clock
from core.actor import SYSTEM
from core.database import db
from core.registry import services as registry
from tests.helpers import id_number

_seq = [5000]


def make_enrollment(
    *,
    township: str = "360124100",
    village: str | None = "360124100001",
    program: str = "dibao",
    amount: str = "650.00",
    start_month: str = "2026-11",
    members: int = 2,
    head_name: str = "王大明",
    born: date = date(1970, 5, 6),
    bank_account: str | None = "6217001234567890123",
    seq: int | None = None,
) -> int:
    """A household of ``members`` persons enrolled from an imaginary decision; returns the enrollment id."""
    _seq[0] += 1
    n = seq if seq is not None else _seq[0]
    head = registry.person_for(
        id_number(born, n % 997 + 1, prefix=township[:6]),
        head_name,
        source_type="officer",
        source_id=f"test-{n}",
        facts={"residence_township_code": township, "residence_village_code": village},
    )
    from core.registry.models import Household

    household = Household(
        head_person_id=head.id,
        residence_township_code=township,
        residence_village_code=village,
        hukou_township_code=township,
        county_code=township[:6],
        source_type="officer",
        source_id=f"test-{n}",
    )
    db.session.add(household)
    db.session.flush()
    today = clock.local_today()
    registry.join_household(household, head.id, "self", today)
    ids = [(head.id, "self")]
    for k in range(1, members):
        other = registry.person_for(
            id_number(date(2000 + k, 1, 1), n % 997 + 1, prefix=township[:6]),
            ("王小红", "王小明", "王小军", "王小兰", "王小华")[(k - 1) % 5],
            source_type="officer",
            source_id=f"test-{n}",
            facts={"residence_township_code": township},
        )
        registry.join_household(household, other.id, "child", today)
        ids.append((other.id, "child"))
    enrollment = registry.create(
        SYSTEM,
        decision_ref=f"test:{n}",
        program=program,
        household_id=household.id,
        person_id=head.id,
        member_ids=ids,
        amount=Decimal(amount),
        start_month=start_month,
        township_code=township,
        village_code=village,
        payee_name=head_name,
        bank_account=bank_account,
        bank_name="中国农业银行进贤支行" if bank_account else None,
        source_type="officer",
    )
    db.session.commit()
    return enrollment.id
