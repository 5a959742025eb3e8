"""Field encryption for secrets kept at rest (TOTP seeds, WeChat session keys, later face templates)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from cryptography.fernet import Fernet, InvalidToken

_fernet: Fernet | None = None
_hmac_key: bytes = b""
_index_keys: dict[str, bytes] = {}  # purpose → derived blind-index key (cleared by configure)


def configure(data_key: str | None, secret_key: str) -> None:
    """Use ``data_key`` (a Fernet key) or, in development, one derived from ``secret_key``."""
    global _fernet, _hmac_key
    if data_key:
        key = data_key.encode()
    else:
        key = base64.urlsafe_b64encode(hashlib.sha256(b"relieflink-data:" + secret_key.encode()).digest())
    _fernet = Fernet(key)
    _hmac_key = hashlib.sha256(b"relieflink-hmac:" + key).digest()
    _index_keys.clear()


def encrypt(plaintext: str) -> str:
    assert _fernet is not None, "core.crypto.configure() not called"
    return _fernet.encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    assert _fernet is not None, "core.crypto.configure() not called"
    try:
        return _fernet.decrypt(token.encode()).decode()
    except InvalidToken as exc:  # a key change or a tampered value
        raise ValueError("cannot decrypt stored secret") from exc


def token_hash(token: str) -> str:
    """Keyed hash for storing bearer secrets (refresh tokens, codes) so a DB leak reveals none."""
    return hmac.new(_hmac_key, token.encode(), hashlib.sha256).hexdigest()


def random_token(nbytes: int = 32) -> str:
    return secrets.token_urlsafe(nbytes)


def encrypt_bytes(data: bytes) -> bytes:
    assert _fernet is not None, "core.crypto.configure() not called"
    return _fernet.encrypt(data)


def decrypt_bytes(token: bytes) -> bytes:
    assert _fernet is not None, "core.crypto.configure() not called"
    try:
        return _fernet.decrypt(token)
    except InvalidToken as exc:
        raise ValueError("cannot decrypt stored data") from exc


def seal(value: str) -> str:
    """An HMAC with the server key: evidence records are sealed with it."""
    return hmac.new(_hmac_key, b"seal:" + value.encode(), hashlib.sha256).hexdigest()


def keyed_digest(purpose: str, value: str) -> str:
    """A deterministic keyed HMAC for blind indexes (one key per purpose, derived from the server key)."""
    key = _index_keys.get(purpose)
    if key is None:  # derived once per purpose (bulk imports compute hundreds of thousands of indexes)
        key = _index_keys[purpose] = hmac.new(_hmac_key, b"index:" + purpose.encode(), hashlib.sha256).digest()
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()
