from __future__ import annotations

from celery import shared_task
from flask import current_app

from core.authorizations import services as authorizations
from core.database import commit
from core.identity import services as identity
from core.liveness.services import LivenessSettings
from workers.retry import RETRY


@shared_task(name=authorizations.FACE_TASK, acks_late=True, **RETRY)
def verify(verification_id: int) -> str:
    """Run one face verification (CPU-bound; its own queue). Safe to run twice."""
    settings = authorizations.FaceSettings.from_config(current_app.config)
    status = authorizations.run_verification(
        verification_id, current_app.extensions["face_engine"](), current_app.extensions["portrait_source"](), settings
    )
    commit()
    return status


@shared_task(name=identity.FACE_TASK, acks_late=True, **RETRY)
def verify_identity(verification_id: int) -> str:
    """Real-name verification by face (same engine and queue). Safe to run twice."""
    settings = authorizations.FaceSettings.from_config(current_app.config)
    status = identity.run_face(
        verification_id,
        current_app.extensions["face_engine"](),
        current_app.extensions["portrait_source"](),
        settings,
        LivenessSettings.from_config(current_app.config),
    )
    commit()
    return status
