"""ID numbers at rest: encrypted, with keyed blind indexes for look-up.

A column pair never holds a readable ID number: ``<name>_enc`` is the Fernet token (core.crypto) and
``<name>_bidx`` an HMAC of the normalised number (exact look-up, uniqueness), ``<name>_l4`` an HMAC of
its last four characters (the officers' "search by the last four"). ``encrypted_id`` turns the three
columns into one attribute that reads and writes the plain number and compares through the index, so
``Model.id_number == value`` and ``Model.id_number.in_(values)`` are index look-ups in SQL.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import String
from sqlalchemy.ext.hybrid import Comparator, hybrid_property
from sqlalchemy.orm import mapped_column

from core import crypto

INDEX_LENGTH = 64  # hex SHA-256
ENC_LENGTH = 200  # a Fernet token of an 18-character number is 120 characters


def normalise(value: str) -> str:
    return (value or "").strip().upper()


def blind_index(value: str) -> str:
    """The keyed index of a full ID number (equal numbers, equal index; unreadable without the key)."""
    return crypto.keyed_digest("id-number", normalise(value))


def last4_index(value: str) -> str:
    """The keyed index of the last four characters (a number's, or the four an officer typed)."""
    return crypto.keyed_digest("id-last4", normalise(value)[-4:])


def encrypt_id(value: str) -> str:
    return crypto.encrypt(normalise(value))


def decrypt_id(token: str | None) -> str | None:
    return crypto.decrypt(token) if token else None


def columns(*, nullable: bool = True, unique: bool = False, index: bool = True) -> tuple[Any, Any, Any]:
    """(enc, bidx, l4) mapped columns for one encrypted ID number."""
    return (
        mapped_column(String(ENC_LENGTH), nullable=nullable),
        mapped_column(String(INDEX_LENGTH), nullable=nullable, unique=unique, index=index and not unique),
        mapped_column(String(INDEX_LENGTH), nullable=nullable, index=index),
    )


class _IndexComparator(Comparator):
    """Compares a plain number with the stored blind index."""

    def __init__(self, expression: Any) -> None:
        super().__init__(expression)

    def __eq__(self, other: Any) -> Any:  # type: ignore[override]
        if other is None:
            return self.expression.is_(None)
        return self.expression == blind_index(other)

    def __ne__(self, other: Any) -> Any:  # type: ignore[override]
        if other is None:
            return self.expression.is_not(None)
        return self.expression != blind_index(other)

    def in_(self, other: Iterable[str]) -> Any:  # type: ignore[override]
        return self.expression.in_([blind_index(v) for v in other])

    def is_(self, other: Any) -> Any:  # type: ignore[override]
        return self.expression.is_(other)

    def is_not(self, other: Any) -> Any:  # type: ignore[override]
        return self.expression.is_not(other)


def encrypted_id(enc: str, bidx: str, l4: str) -> hybrid_property:
    """A plain-text attribute over the three columns named (see the module docstring)."""

    def getter(self: Any) -> str | None:
        return decrypt_id(getattr(self, enc))

    def setter(self: Any, value: str | None) -> None:
        if value is None:  # an empty string is kept as one (a draft's blank field reads back as it was saved)
            setattr(self, enc, None)
            setattr(self, bidx, None)
            setattr(self, l4, None)
            return
        setattr(self, enc, encrypt_id(value))
        setattr(self, bidx, blind_index(value))
        setattr(self, l4, last4_index(value))

    def comparator(cls: Any) -> _IndexComparator:
        return _IndexComparator(getattr(cls, bidx))

    prop = hybrid_property(getter)
    prop = prop.setter(setter)
    return prop.comparator(comparator)


def last4_matches(model_l4_column: Any, last4: str) -> Any:
    """SQL condition: the number ends with these four characters."""
    return model_l4_column == last4_index(last4)
