"""The published keys: ``/.well-known/paserk.json`` (PASETO keys with their
status) and ``/.well-known/jwks.json`` (JWT keys), read strictly into one
key set typed by format. A document with one bad key is refused whole, as
the Rust verifier refuses it."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pyseto import Key

from ._encoding import b64decode, b64encode

STATUSES = ("pending", "active", "retiring", "retired")

# Ed25519 points of small order, compared with the sign bit cleared
# (libsodium's blocklist): such a key "verifies" forged signatures (R =
# identity, S = 0 on any message for the identity key), and OpenSSL's verify
# does not refuse them. The service never publishes one; a key set that does
# verifies nothing with it (SECURITY.md B13).
_SMALL_ORDER = frozenset(
    bytes.fromhex(h)
    for h in (
        "00" * 32,
        "01" + "00" * 31,
        "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
        "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
        "ec" + "ff" * 30 + "7f",
        "ed" + "ff" * 30 + "7f",
        "ee" + "ff" * 30 + "7f",
    )
)


def _usable(raw: bytes) -> bool:
    return raw[:31] + bytes([raw[31] & 0x7F]) not in _SMALL_ORDER


@dataclass(frozen=True)
class PasetoKey:
    kid: str
    key: Any  # a pyseto v4.public key
    status: str
    usable: bool


@dataclass(frozen=True)
class JwtKey:
    kid: str
    key: Ed25519PublicKey
    usable: bool


@dataclass(frozen=True)
class KeySet:
    """Keys by id, one map per format: a key of one format is never found for
    a token of the other."""

    paseto: dict[str, PasetoKey] = field(default_factory=dict)
    jwt: dict[str, JwtKey] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.paseto) + len(self.jwt)


def _raw_32(b64: Any) -> bytes:
    if not isinstance(b64, str):
        raise ValueError("not base64url")
    raw = b64decode(b64)
    if len(raw) != 32:
        raise ValueError(f"an Ed25519 key is 32 bytes, this one is {len(raw)}")
    return raw


def _document(body: bytes, what: str) -> list[Any]:
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError) as e:
        raise ValueError(f"not a {what} document") from e
    if not isinstance(doc, dict) or not isinstance(doc.get("keys"), list):
        raise ValueError(f"not a {what} document")
    return doc["keys"]


def read_paserk_set(body: bytes) -> dict[str, PasetoKey]:
    """``{"keys": [{"kid", "paserk": "k4.public.…", "status"}]}``; each kid
    must be its key's ``k4.pid``."""
    keys: dict[str, PasetoKey] = {}
    for entry in _document(body, "PASERK key set"):
        if not isinstance(entry, dict):
            raise ValueError("not a PASERK key set document")
        kid, paserk, status = entry.get("kid"), entry.get("paserk"), entry.get("status")
        if not isinstance(kid, str) or not isinstance(paserk, str) or status not in STATUSES:
            raise ValueError("not a PASERK key set document")
        if not paserk.startswith("k4.public."):
            raise ValueError("not a PASERK k4.public key")
        raw = _raw_32(paserk[len("k4.public.") :])
        key = Key.from_paserk("k4.public." + b64encode(raw))
        if key.to_paserk_id() != kid:
            raise ValueError(f"key id {kid} does not match the key")
        if kid in keys:
            raise ValueError(f"key id {kid} appears twice")
        keys[kid] = PasetoKey(kid, key, status, _usable(raw))
    return keys


def thumbprint(x: str) -> str:
    """The RFC 7638 SHA-256 thumbprint of an Ed25519 JWK: its key id."""
    canonical = json.dumps({"crv": "Ed25519", "kty": "OKP", "x": x}, separators=(",", ":"), sort_keys=True)
    return b64encode(hashlib.sha256(canonical.encode("ascii")).digest())


def read_jwks(body: bytes) -> dict[str, JwtKey]:
    """A JWKS of Ed25519 keys (``kty`` OKP, ``crv`` Ed25519, ``alg`` EdDSA
    and ``use`` sig when given); each kid must be its key's thumbprint."""
    keys: dict[str, JwtKey] = {}
    for jwk in _document(body, "JWKS"):
        if not isinstance(jwk, dict):
            raise ValueError("not a JWKS document")
        if jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
            raise ValueError("not an Ed25519 JWK: kty must be OKP and crv Ed25519")
        if jwk.get("alg") not in (None, "EdDSA"):
            raise ValueError("not an Ed25519 JWK: alg must be EdDSA")
        if jwk.get("use") not in (None, "sig"):
            raise ValueError("not an Ed25519 JWK: use must be sig")
        kid = jwk.get("kid")
        if not isinstance(kid, str):
            raise ValueError("not a JWKS document")
        raw = _raw_32(jwk.get("x"))
        if thumbprint(b64encode(raw)) != kid:
            raise ValueError(f"key id {kid} does not match the key")
        if kid in keys:
            raise ValueError(f"key id {kid} appears twice")
        keys[kid] = JwtKey(kid, Ed25519PublicKey.from_public_bytes(raw), _usable(raw))
    return keys
