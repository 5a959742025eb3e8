from __future__ import annotations

from marshmallow import fields, validate

from miniprogram_api.schemas import StrictSchema


class ClientOut(StrictSchema):
    key_id = fields.String(
        required=True,
        metadata={"description": "The key id (keyid in Signature-Input)", "example": "gongan-taiyuan-3f9a1c2b7d4e"},
    )
    name = fields.String(required=True, metadata={"description": "接入系统名称", "example": "公安人口信息系统"})
    algorithm = fields.String(
        required=True,
        metadata={
            "enum": ["hmac-sha256", "hmac-sm3"],
            "description": "The signature algorithm registered for this key",
        },
    )
    department_code = fields.String(required=True, metadata={"description": "部门代码", "example": "gongan-taiyuan"})
    department_name = fields.String(required=True, metadata={"description": "部门名称", "example": "太原市公安局"})
    region_code = fields.String(
        required=True, metadata={"description": "The division code the department's data cover", "example": "1401"}
    )
    categories = fields.List(
        fields.String(),
        required=True,
        metadata={"description": "Data categories this key may send", "example": ["deaths"]},
    )
    server_time = fields.Integer(
        required=True, metadata={"description": "The server's clock (Unix seconds): sign with `created` within 300 s"}
    )


class EventIn(StrictSchema):
    event_id = fields.String(
        required=True, metadata={"description": "The department's own id of the event (1-64): a retry is harmless"}
    )
    type = fields.String(required=True, metadata={"enum": ["death", "cremation"], "description": "死亡 / 火化"})
    id_number = fields.String(required=True, metadata={"description": "18-digit ID number (check digit verified)"})
    date = fields.String(required=True, metadata={"format": "date", "description": "YYYY-MM-DD, not in the future"})
    name = fields.String(load_default=None, allow_none=True, metadata={"description": "姓名 (up to 50)"})
    place = fields.String(load_default=None, allow_none=True, metadata={"description": "死亡/火化地点 (up to 200)"})


class EventsIn(StrictSchema):
    # the content of each event is checked by the service (all or nothing, ``events.<i>.<field>`` errors)
    events = fields.List(
        fields.Nested(EventIn),
        required=True,
        validate=validate.Length(min=1, max=1000, error="每次推送1-1000条事件"),
        metadata={"description": "1-1000 events, stored all or none"},
    )


class EventResultOut(StrictSchema):
    event_id = fields.String(required=True, metadata={"description": "The event id as sent"})
    status = fields.String(
        required=True,
        metadata={"enum": ["received", "duplicate"], "description": "`duplicate`: received before, nothing done again"},
    )
    matched_enrollments = fields.Integer(
        required=True, metadata={"description": "Enrollments of this person (a warning was raised when > 0)"}
    )


class EventsOut(StrictSchema):
    results = fields.List(
        fields.Nested(EventResultOut), required=True, metadata={"description": "One result per event, in order"}
    )


class BatchArgs(StrictSchema):
    category = fields.String(
        required=True, metadata={"description": "Data category code (see the catalogue), e.g. `pensions`"}
    )
    batch_id = fields.String(
        required=True,
        metadata={
            "description": "Your id of this batch, 1-64 of letters, digits, `. _ : -`: a retry with the same id and "
            "rows returns the first load and stores nothing again; the same id with other rows is 409"
        },
    )


class FileArgs(StrictSchema):
    category = fields.String(required=True, metadata={"description": "Data category code, e.g. `vehicles`"})
    filename = fields.String(
        required=True,
        metadata={"description": "The file's name (its extension picks the format: .csv, .xlsx, .parquet)"},
    )
    batch_id = fields.String(
        load_default=None, metadata={"description": "Optional id: a retried upload with it finds the first load"}
    )


class ErrorReportArgs(StrictSchema):
    format = fields.String(
        load_default="csv",
        validate=validate.OneOf(["csv", "xlsx"]),
        metadata={"description": "csv (UTF-8 with BOM, every rejected row) or xlsx (up to 1,000,000 rows)"},
    )


class LoadOut(StrictSchema):
    id = fields.Integer(required=True, metadata={"description": "The load (批次) id"})
    category = fields.String(required=True, metadata={"description": "Data category code"})
    batch_id = fields.String(allow_none=True, metadata={"description": "Your batch id, if sent"})
    status = fields.String(
        required=True,
        metadata={
            "enum": ["pending", "running", "completed", "failed", "purged"],
            "description": "pending (queued), running, completed, failed (see message), purged (past retention)",
        },
    )
    status_label = fields.String(required=True, metadata={"description": "The status in Chinese", "example": "已完成"})
    stage = fields.String(allow_none=True, metadata={"description": "What a running load is doing"})
    progress = fields.Integer(required=True, metadata={"description": "Percent done"})
    rows_total = fields.Integer(required=True, metadata={"description": "Rows received"})
    rows_accepted = fields.Integer(required=True, metadata={"description": "Rows stored"})
    rows_rejected = fields.Integer(
        required=True, metadata={"description": "Rows kept out (listed in the error report with the reason)"}
    )
    rejected_by_reason = fields.Dict(
        keys=fields.String(),
        values=fields.Integer(),
        allow_none=True,
        metadata={"description": "Rejected rows counted by reason code"},
    )
    min_effective_date = fields.String(
        allow_none=True, metadata={"format": "date", "description": "Earliest effective date stored"}
    )
    max_effective_date = fields.String(
        allow_none=True, metadata={"format": "date", "description": "Latest effective date stored"}
    )
    sha256 = fields.String(required=True, metadata={"description": "SHA-256 of the file or batch as received"})
    message = fields.String(allow_none=True, metadata={"description": "Why a load failed (Chinese)"})
    created_at = fields.String(required=True, metadata={"format": "date-time", "description": "Received (UTC)"})
    finished_at = fields.String(allow_none=True, metadata={"format": "date-time", "description": "Finished (UTC)"})
