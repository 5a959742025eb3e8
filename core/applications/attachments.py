"""Materials of an application: uploads checked by content, listed, deleted while editable."""

from __future__ import annotations

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from core.accounts.models import User
from core.actor import Actor
from core.applications import rules
from core.applications.models import (
    Application,
    Attachment,
)
from core.applications.programs import MATERIALS
from core.audit import services as audit
from core.database import db
from core.errors import Conflict, NotFound, ValidationFailed
from core.files import storage


def add_attachment(
    actor: Actor, user: User, app: Application, material: str, data: bytes, filename: str | None, *, max_bytes: int
) -> Attachment:
    if material not in MATERIALS:
        raise ValidationFailed(errors={"material": ["请选择材料类别"]})
    if app.status not in rules.UPLOADS_ALLOWED:
        raise Conflict("当前状态不能上传材料", code="not_editable")
    stored = storage.store_upload(data, filename, max_bytes=max_bytes, area="attachments")
    attachment = Attachment(
        application_id=app.id,
        material=material,
        original_name=stored.original_name,
        content_type=stored.content_type,
        size=stored.size,
        sha256=stored.sha256,
        storage_key=stored.storage_key,
        uploaded_by_user_id=user.id,
    )
    db.session.add(attachment)
    db.session.flush()
    audit.record(actor, "application.attachment_add", app, material=material, attachment_id=attachment.id)
    return attachment


def get_attachment(app: Application, attachment_id: int) -> Attachment:
    attachment = db.session.scalar(
        select(Attachment).where(Attachment.id == attachment_id, Attachment.application_id == app.id)
    )
    if attachment is None:
        raise NotFound("未找到该材料", code="attachment_not_found")
    return attachment


# The materials of an application are read once per unit of work (submit validates them, then the answer
# lists them): a copy per application id in the session's info, dropped by any flush that writes an
# attachment and at the end of the transaction.
MEMO = "attachments_of"


def none_yet(app: Application) -> None:
    """A draft created in this unit of work has no materials: ``attachments_of`` answers without a query."""
    db.session.info.setdefault(MEMO, {})[app.id] = []


def attachments_of(app: Application) -> list[Attachment]:
    memo = db.session.info.setdefault(MEMO, {})
    if app.id not in memo or db.session.dirty or db.session.new or db.session.deleted:
        db.session.flush()  # what the query would autoflush (it may write attachments: the memo is then gone)
        memo = db.session.info.setdefault(MEMO, {})
        if app.id not in memo:
            memo[app.id] = list(
                db.session.scalars(
                    select(Attachment).where(Attachment.application_id == app.id).order_by(Attachment.id)
                )
            )
    return list(memo[app.id])


@event.listens_for(Session, "after_flush")
def _attachments_written(session: Session, flush_context: object) -> None:
    if MEMO in session.info and any(
        isinstance(obj, Attachment) for obj in (*session.new, *session.dirty, *session.deleted)
    ):
        session.info.pop(MEMO, None)


@event.listens_for(Session, "after_transaction_end")
def _transaction_ended(session: Session, transaction: object) -> None:
    if getattr(transaction, "parent", None) is None:
        session.info.pop(MEMO, None)


def delete_attachment(actor: Actor, user: User, app: Application, attachment_id: int) -> None:
    attachment = get_attachment(app, attachment_id)
    if app.status not in rules.UPLOADS_ALLOWED or attachment.correction_event_id is not None:
        raise Conflict("已提交的材料不能删除", code="not_editable")
    db.session.delete(attachment)
    audit.record(actor, "application.attachment_delete", app, attachment_id=attachment_id)
    storage.delete(attachment.storage_key)
