"""Access logs never carry an authorization token.

Tokens travel in the X-Authorization-Token header (not logged) and the QR link keeps them in the URL
fragment (never sent). A client that still puts one in a URL — an old build calling
``/api/v1/authorizations/<token>``, or ``?token=`` — would write it into the request line that the
development server (``werkzeug``) and gunicorn (``gunicorn.access``) log: this filter masks it there.
"""

from __future__ import annotations

import logging
import re

from flask import Flask

# a path segment after /authorizations/ that is not one of our words, and token-like query parameters
_PATH = re.compile(r"(/api/v1/authorizations/)(?!(?:letter|identity|face|signature)\b)([A-Za-z0-9_\-]{16,})")
_QUERY = re.compile(r"([?&;#](?:token|auth_token|authorization_token|access_token)=)[^&\s\"']+", re.IGNORECASE)
LOGGERS = ("werkzeug", "gunicorn.access", "gunicorn.error", "relieflink", "web.errors")


def redact(text: str) -> str:
    return _QUERY.sub(r"\1[redacted]", _PATH.sub(r"\1[redacted]", text))


class RedactTokens(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a broken record is the logger's business, not ours
            return True
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def install(app: Flask) -> None:
    """Attach the filter to the request-line loggers (idempotent)."""
    for name in LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactTokens) for f in logger.filters):
            logger.addFilter(RedactTokens())
