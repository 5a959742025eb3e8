"""Signed department requests: a strict profile of RFC 9421 (HTTP Message Signatures) with HMAC.

A department system sends three headers::

    Content-Digest: sha-256=:<base64 of the body's SHA-256>:          (``sm3=:…:`` for hmac-sm3 clients)
    Signature-Input: sig1=("@method" "@path" "@query" "content-digest");created=<unix s>;
                     nonce="<16-64 chars>";keyid="<key id>";alg="hmac-sha256"          (one line)
    Signature: sig1=:<base64 of HMAC(secret, signature base)>:

The signature base is RFC 9421's (section 2.5): one line per covered component, then the parameters::

    "@method": POST
    "@path": /api/v1/exchange/batches
    "@query": ?category=deaths&batch_id=20261203-01
    "content-digest": sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:
    "@signature-params": ("@method" "@path" "@query" "content-digest");created=1764770000;
                         nonce="…";keyid="…";alg="hmac-sha256"                       (one line)

The profile accepts exactly that component list (so nothing a department sends is left unsigned), one
signature labelled ``sig1``, ``created`` within ``MAX_SKEW_SECONDS`` of the server's clock, and the two
algorithms ``hmac-sha256`` and ``hmac-sm3`` (国密 SM3, GB/T 32905, through OpenSSL). The nonce is spent
by the caller (``core.exchange.clients.spend_nonce``), so a captured request cannot be replayed.
``sign`` builds the headers; department systems written in Python can use it as it is, and
docs/exchange.md gives the steps for other languages.
"""

from __future__ import annotations

import base64
import hashlib
import hmac as std_hmac
import re
import time
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as crypto_hmac

from core.errors import SignatureFailed

LABEL = "sig1"
COMPONENTS = ("@method", "@path", "@query", "content-digest")
MAX_SKEW_SECONDS = 300
ALGORITHMS = ("hmac-sha256", "hmac-sm3")
DIGEST_OF = {"hmac-sha256": "sha-256", "hmac-sm3": "sm3"}
NONCE_RE = re.compile(r"^[A-Za-z0-9_\-]{16,64}$")
KEY_ID_RE = re.compile(r"^[A-Za-z0-9_\-]{4,40}$")
_COMPONENT_LIST = "(" + " ".join(f'"{c}"' for c in COMPONENTS) + ")"
_INPUT_RE = re.compile(
    rf"^{LABEL}=(?P<components>\([^)]*\))"
    r';created=(?P<created>\d{1,12});nonce="(?P<nonce>[^"]*)";keyid="(?P<keyid>[^"]*)";alg="(?P<alg>[^"]*)"$'
)
_SIGNATURE_RE = re.compile(rf"^{LABEL}=:(?P<value>[A-Za-z0-9+/=]{{1,200}}):$")
_DIGEST_RE = re.compile(r"^(?P<alg>sha-256|sm3)=:(?P<value>[A-Za-z0-9+/=]{1,100}):$")


SignatureError = SignatureFailed  # the domain error (401) with the reason in ``code``


@dataclass(frozen=True)
class SignatureInput:
    created: int
    nonce: str
    key_id: str
    algorithm: str
    params: str  # the serialized parameters exactly as signed


def body_digest(algorithm: str, body: bytes) -> bytes:
    return _digest(algorithm)(body)


def _digest(algorithm: str):
    if algorithm in ("sha-256", "hmac-sha256"):
        return lambda data: hashlib.sha256(data).digest()

    def sm3(data: bytes) -> bytes:
        h = hashes.Hash(hashes.SM3())
        h.update(data)
        return h.finalize()

    return sm3


class StreamingDigest:
    """A body digest computed while the body streams to disk (a 2 GB file is never held in memory)."""

    def __init__(self, header_algorithm: str):
        self.algorithm = header_algorithm
        self._sha = hashlib.sha256() if header_algorithm == "sha-256" else None
        self._sm3 = None if self._sha is not None else hashes.Hash(hashes.SM3())

    def update(self, chunk: bytes) -> None:
        (self._sha or self._sm3).update(chunk)

    def digest(self) -> bytes:
        return self._sha.digest() if self._sha is not None else self._sm3.finalize()


def content_digest_header(algorithm: str, body: bytes) -> str:
    name = DIGEST_OF[algorithm]
    return f"{name}=:{base64.b64encode(body_digest(name, body)).decode()}:"


def parse_content_digest(header: str | None) -> tuple[str, bytes]:
    match = _DIGEST_RE.match((header or "").strip())
    if not match:
        raise SignatureFailed("缺少或无法解析 Content-Digest 请求头", code="signature_invalid")
    try:
        return match["alg"], base64.b64decode(match["value"], validate=True)
    except ValueError as exc:
        raise SignatureFailed("Content-Digest 不是有效的 Base64", code="signature_invalid") from exc


def signature_base(method: str, path: str, query: str, content_digest: str, params: str) -> bytes:
    lines = [
        f'"@method": {method.upper()}',
        f'"@path": {path}',
        f'"@query": ?{query}',
        f'"content-digest": {content_digest}',
        f'"@signature-params": {params}',
    ]
    return "\n".join(lines).encode()


def mac(algorithm: str, secret: str, message: bytes) -> bytes:
    if algorithm == "hmac-sha256":
        return std_hmac.new(secret.encode(), message, hashlib.sha256).digest()
    if algorithm == "hmac-sm3":
        h = crypto_hmac.HMAC(secret.encode(), hashes.SM3())
        h.update(message)
        return h.finalize()
    raise SignatureFailed("不支持的签名算法", code="signature_invalid")


def params_string(created: int, nonce: str, key_id: str, algorithm: str) -> str:
    return f'{_COMPONENT_LIST};created={created};nonce="{nonce}";keyid="{key_id}";alg="{algorithm}"'


def sign(
    method: str,
    path: str,
    query: str,
    body: bytes,
    *,
    key_id: str,
    secret: str,
    algorithm: str = "hmac-sha256",
    nonce: str,
    created: int | None = None,
) -> dict[str, str]:
    """The three headers of a signed request (what a department system sends)."""
    created = int(time.time()) if created is None else created
    digest = content_digest_header(algorithm, body)
    params = params_string(created, nonce, key_id, algorithm)
    value = mac(algorithm, secret, signature_base(method, path, query, digest, params))
    return {
        "Content-Digest": digest,
        "Signature-Input": f"{LABEL}={params}",
        "Signature": f"{LABEL}=:{base64.b64encode(value).decode()}:",
    }


def parse_input(header: str | None, *, now: float | None = None) -> SignatureInput:
    """The Signature-Input header, checked against the profile and the clock (before any key is looked up)."""
    match = _INPUT_RE.match((header or "").strip())
    if not match:
        raise SignatureFailed("请求未签名或签名参数格式不正确（Signature-Input）", code="signature_missing")
    if match["components"] != _COMPONENT_LIST:
        raise SignatureFailed("签名必须覆盖 @method、@path、@query 和 content-digest", code="signature_invalid")
    if match["alg"] not in ALGORITHMS:
        raise SignatureFailed("不支持的签名算法", code="signature_invalid")
    if not NONCE_RE.match(match["nonce"]):
        raise SignatureFailed("nonce 须为 16-64 位字母、数字、下划线或连字符", code="signature_invalid")
    if not KEY_ID_RE.match(match["keyid"]):
        raise SignatureFailed("keyid 格式不正确", code="signature_invalid")
    created = int(match["created"])
    now = time.time() if now is None else now
    if abs(now - created) > MAX_SKEW_SECONDS:
        raise SignatureFailed("签名时间与服务器时间相差超过5分钟，请校准时钟后重新签名", code="signature_expired")
    params = match.group(0)[len(LABEL) + 1 :]
    return SignatureInput(created, match["nonce"], match["keyid"], match["alg"], params)


def check(
    parsed: SignatureInput,
    *,
    method: str,
    path: str,
    query: str,
    content_digest: str,
    signature_header: str | None,
    secrets: list[str],
) -> None:
    """Raise unless ``Signature`` is the HMAC of the request under one of ``secrets`` (current, previous)."""
    match = _SIGNATURE_RE.match((signature_header or "").strip())
    if not match:
        raise SignatureFailed("缺少或无法解析 Signature 请求头", code="signature_missing")
    try:
        given = base64.b64decode(match["value"], validate=True)
    except ValueError as exc:
        raise SignatureFailed("签名不是有效的 Base64", code="signature_invalid") from exc
    base = signature_base(method, path, query, content_digest, parsed.params)
    for secret in secrets:
        if std_hmac.compare_digest(mac(parsed.algorithm, secret, base), given):
            return
    raise SignatureFailed("签名校验失败", code="signature_invalid")
