"""Shared schema pieces."""

from __future__ import annotations

from marshmallow import RAISE, Schema


class StrictSchema(Schema):
    """Input schemas: unknown fields are rejected (no mass assignment)."""

    class Meta:
        unknown = RAISE
