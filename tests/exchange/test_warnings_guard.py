"""A monitoring warning is closed only through its own dispositions (core.monitoring.dispositions), never
through the generic verification that anti-fraud and event warnings use."""

from __future__ import annotations

import pytest

from core.actor import SYSTEM
from core.database import db
from core.errors import Conflict
from core.warnings import services as warnings
from tests.helpers import id_number
from tests.registry.rolls_helpers import MINHE, officer


def test_generic_verify_refuses_a_monitoring_warning(app):
    township = officer(app, "minhe-g1", region=MINHE, role="township_officer")
    with app.app_context():
        result = warnings.raise_warnings(
            SYSTEM,
            [
                warnings.Hit(
                    source="monitoring",
                    reason="rigid_expenditure",
                    reason_label="刚性支出过大",
                    level="orange",
                    id_number=id_number(seq=77, prefix="360124"),
                    township_code=MINHE,
                    summary="近12个月医疗自付费用较高",
                    fingerprint="medical_costs:2026-11",
                )
            ],
        )
        db.session.commit()
        (warning_id,) = result.created_ids
        with pytest.raises(Conflict) as refused:
            warnings.verify(township, warning_id, result="dismissed", note="不应通过通用核查关闭")
        assert refused.value.code == "monitoring_disposition_required"
        assert warnings.get_warning(township, warning_id).status == "open"
