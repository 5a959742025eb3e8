from __future__ import annotations

from celery import shared_task
from flask import current_app

from core.authorizations import services as authorizations
from core.database import commit


@shared_task(name=authorizations.FACE_TASK, acks_late=True)
def verify(verification_id: int) -> str:
    """Run one face verification (CPU-bound; its own queue). Safe to run twice."""
    c = current_app.config
    settings = authorizations.FaceSettings(
        tolerance=c["FACE_TOLERANCE"],
        turn_threshold=c["FACE_TURN_THRESHOLD"],
        retention_seconds=c["FACE_FRAME_RETENTION_SECONDS"],
        max_frame_bytes=c["FACE_MAX_FRAME_BYTES"],
    )
    status = authorizations.run_verification(
        verification_id, current_app.extensions["face_engine"](), current_app.extensions["portrait_source"](), settings
    )
    commit()
    return status
