from __future__ import annotations

from marshmallow import Schema, fields

from core.registry.models import ENROLLMENT_EVENTS, ENROLLMENT_STATUSES, TRANSFER_STATUSES
from miniprogram_api.schemas import DecimalString


class OpenTransferOut(Schema):
    id = fields.Integer(metadata={"description": "The transfer's id"})
    status = fields.String(metadata={"enum": list(TRANSFER_STATUSES), "description": "Where the transfer stands"})
    status_label = fields.String(metadata={"description": "Status, Chinese", "example": "待原县确认"})
    to_township_code = fields.String(metadata={"description": "The new township code", "example": "360111001"})
    to_township_name = fields.String(allow_none=True, metadata={"description": "The new township's name"})


class HistoryOut(Schema):
    kind = fields.String(metadata={"enum": list(ENROLLMENT_EVENTS), "description": "What happened"})
    kind_label = fields.String(metadata={"description": "Chinese", "example": "纳入救助"})
    text = fields.String(metadata={"description": "What changed, in plain Chinese"})
    reason = fields.String(allow_none=True, metadata={"description": "The reason given, if any"})
    at = fields.DateTime(metadata={"description": "UTC"})


class BenefitOut(Schema):
    """One of my household's benefits (an enrollment that covers me)."""

    id = fields.Integer(metadata={"description": "Use as {id} in /me/benefits/{id}"})
    reference = fields.String(metadata={"description": "The enrollment's reference", "example": "BZ20261202A1B2C3D4"})
    program = fields.String(metadata={"enum": ["dibao", "tekun"], "description": "The programme"})
    program_label = fields.String(metadata={"description": "The programme, Chinese", "example": "最低生活保障"})
    status = fields.String(metadata={"enum": list(ENROLLMENT_STATUSES), "description": "Where the benefit stands"})
    status_label = fields.String(metadata={"description": "Status, Chinese", "example": "在保"})
    status_reason = fields.String(allow_none=True, metadata={"description": "Why suspended / exited"})
    monthly_amount = DecimalString(metadata={"description": "Yuan per month, a decimal string", "example": "905.00"})
    member_count = fields.Integer(metadata={"description": "Persons covered"})
    start_month = fields.String(metadata={"description": "YYYY-MM", "example": "2026-12"})
    end_month = fields.String(allow_none=True, metadata={"description": "Last month paid once exited or moved"})
    months_paid = fields.Integer(metadata={"description": "Months paid on the county's locked payment rolls"})
    last_paid_month = fields.String(allow_none=True, metadata={"description": "YYYY-MM"})
    next_review_date = fields.Date(allow_none=True, metadata={"description": "Next periodic review (复核)"})
    township_code = fields.String(metadata={"description": "The township that pays (division code)"})
    township_name = fields.String(allow_none=True, metadata={"description": "Its name"})
    bank_account_masked = fields.String(
        allow_none=True, metadata={"description": "The bank account paid into, last four only", "example": "****0123"}
    )
    open_transfer = fields.Nested(
        OpenTransferOut, allow_none=True, metadata={"description": "An eligibility transfer in progress, or null"}
    )
    can_transfer = fields.Boolean(metadata={"description": "Whether a transfer (资格转移) can be requested now"})
    appeal_route = fields.String(metadata={"description": "How to object to a reduction or an exit"})


class BenefitDetailOut(BenefitOut):
    history = fields.List(fields.Nested(HistoryOut), metadata={"description": "Newest first (at most 50)"})
