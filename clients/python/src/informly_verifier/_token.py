"""The token rules, as the service applies them, in the order that keeps
garbage cheap: size, format, structure and key id, key lookup (in memory),
signature (pyseto for PASETO, PyJWT's EdDSA for JWT), and only then the
claims, parsed strictly. Pure: the time is passed in."""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from typing import Any, Union

from jwt.algorithms import OKPAlgorithm

from . import _scopes
from ._encoding import b64decode, is_name, is_pid, is_prefixed_id, json_object, rfc3339
from ._errors import InsufficientScope, InvalidToken
from ._keys import KeySet

MAX_TOKEN_LEN = 8 * 1024
PASETO_HEADER = "v4.public."
_SIGNATURE_LEN = 64
_EDDSA = OKPAlgorithm()
_FORBIDDEN_HEADER = frozenset(("crit", "jwk", "jku", "x5u", "x5c", "cty", "b64", "zip", "enc"))
_KNOWN_HEADER = frozenset(("alg", "typ", "kid")) | _FORBIDDEN_HEADER
_CLAIMS = frozenset(("iss", "aud", "sub", "client_id", "jti", "workspace", "scope", "iat", "nbf", "exp"))
_REQUIRED = _CLAIMS - {"scope"}
_I64_MAX = 2**63 - 1


@dataclass(frozen=True)
class Policy:
    """The service's ``--issuer``, ``--audience`` and rules (its defaults)."""

    issuer: str = "informly"
    audience: str = "informly-api"
    leeway: int = 30
    max_lifetime: int = 366 * 24 * 3600
    max_admin_lifetime: int = 24 * 3600


@dataclass(frozen=True)
class VerifiedToken:
    """A token that passed every rule, revocation included. Holding one
    means a signature was checked; it carries no token string."""

    token_id: str
    #: The app the token speaks for; ``None`` for an admin token.
    app_id: Union[str, None]
    workspace: str
    #: The scopes, in the service's order.
    scopes: tuple[str, ...]
    expires_at: _dt.datetime
    issued_at: _dt.datetime
    format: str
    kid: str
    #: ``sub`` / ``client_id`` as written (``app_…`` or ``admin:…``).
    subject: str

    def has(self, scope: str) -> bool:
        return _scopes.check_known(scope) in self.scopes

    def require(self, scope: str) -> VerifiedToken:
        """Returns the token, or raises :class:`InsufficientScope` naming the
        scope (HTTP 403, not 401: the token is fine, it just does not allow
        this)."""
        if not self.has(scope):
            raise InsufficientScope(scope)
        return self

    def __repr__(self) -> str:
        return (
            f"VerifiedToken(token_id={self.token_id!r}, app_id={self.app_id!r}, "
            f"workspace={self.workspace!r}, scopes={self.scopes!r}, format={self.format!r})"
        )


def _invalid(reason: str, detail: str = "") -> InvalidToken:
    return InvalidToken(reason, detail)


def verify_token(keys: KeySet, policy: Policy, token: str, now: int) -> tuple[VerifiedToken, int]:
    """Checks ``token`` at ``now`` (unix seconds). Returns the verified token
    and its ``iat`` (for the app cutoff), or raises :class:`InvalidToken`."""
    if not isinstance(token, str):
        raise _invalid("malformed", "a token is a string")
    if len(token) > MAX_TOKEN_LEN or (not token.isascii() and len(token.encode("utf-8")) > MAX_TOKEN_LEN):
        raise _invalid("too_large", f"token is longer than {MAX_TOKEN_LEN} bytes")
    if token.startswith(PASETO_HEADER):
        kid, payload = _verify_paseto(keys, token)
        fmt = "paseto"
    elif token.startswith("eyJ"):
        kid, payload = _verify_jwt(keys, token)
        fmt = "jwt"
    else:
        raise _invalid("malformed", "token is neither v4.public PASETO nor a JWT")
    return _claims(payload, fmt, kid, policy, now)


class _Memo:
    """Footers (PASETO) and headers (JWT) that passed their checks, by their
    exact base64url segment: each key has one, so reading it once per key
    spares the base64 and JSON work on every token. Bounded: emptied when
    full (strangers' segments are never kept: only those that passed)."""

    def __init__(self, size: int = 256) -> None:
        self.size = size
        self.entries: dict[str, Any] = {}

    def get(self, segment: str) -> Any:
        return self.entries.get(segment)

    def put(self, segment: str, value: Any) -> None:
        if len(self.entries) >= self.size:
            self.entries.clear()
        self.entries[segment] = value


_FOOTERS = _Memo()
_HEADERS = _Memo()


def paseto_key_id(token: str) -> tuple[str, bytes, str]:
    """The footer's ``kid``, the footer bytes and the message segment of a
    ``v4.public.`` token, read before its signature is checked: the footer
    must be exactly ``{"kid": "k4.pid.…"}``."""
    parts = token[len(PASETO_HEADER) :].split(".")
    message = parts[0]
    if not message or len(parts) > 2:
        raise _invalid("malformed", "token is not well formed")
    if len(parts) == 1:
        raise _invalid("malformed", "token names no key id")
    known = _FOOTERS.get(parts[1])
    if known is not None:
        return known[0], known[1], message
    if parts[1] == "":
        raise _invalid("malformed", "token encoding is not canonical (empty footer)")
    try:
        footer = b64decode(parts[1])
    except ValueError:
        raise _invalid("malformed", "token encoding is not canonical") from None
    try:
        footer_json = json_object(footer)
    except ValueError:
        raise _invalid("malformed", 'token footer is not exactly {"kid": …}') from None
    kid = footer_json.get("kid")
    if len(footer_json) != 1 or not isinstance(kid, str) or not is_pid(kid):
        raise _invalid("malformed", 'token footer is not exactly {"kid": …}')
    _FOOTERS.put(parts[1], (kid, footer))
    return kid, footer, message


def verify_paseto_signature(key: Any, token_message: str, footer: bytes, implicit: bytes) -> bytes:
    """The payload of a v4.public message whose signature verifies with
    ``key`` (pyseto) over the footer and the implicit assertion."""
    try:
        message = b64decode(token_message)
    except ValueError:
        raise _invalid("malformed", "token encoding is not canonical") from None
    if len(message) <= _SIGNATURE_LEN:
        raise _invalid("malformed", "token message is too short")
    try:
        return key.verify(message, footer, implicit)
    except Exception:
        raise _invalid("bad_signature", "token signature is invalid") from None


def _verify_paseto(keys: KeySet, token: str) -> tuple[str, bytes]:
    kid, footer, message = paseto_key_id(token)
    entry = keys.paseto.get(kid)
    if entry is None or entry.status == "retired":
        raise _invalid("unknown_key", "token names an unknown or retired key")
    if not entry.usable:
        raise _invalid("bad_signature", "token names a key that verifies nothing")
    return kid, verify_paseto_signature(entry.key, message, footer, b"")


def _verify_jwt(keys: KeySet, token: str) -> tuple[str, bytes]:
    parts = token.split(".")
    if len(parts) != 3 or not all(parts):
        raise _invalid("malformed", "token is not well formed")
    header_b64, payload_b64, signature_b64 = parts
    kid = _HEADERS.get(header_b64)
    if kid is None:
        kid = _jwt_header(header_b64)
        _HEADERS.put(header_b64, kid)
    entry = keys.jwt.get(kid)
    if entry is None:
        raise _invalid("unknown_key", "token names an unknown key")
    try:
        signature = b64decode(signature_b64)
    except ValueError:
        raise _invalid("malformed", "token encoding is not canonical") from None
    if len(signature) != _SIGNATURE_LEN or not entry.usable:
        raise _invalid("bad_signature", "token signature is invalid")
    signing_input = token[: len(header_b64) + 1 + len(payload_b64)].encode("ascii")
    if not _EDDSA.verify(signing_input, entry.key, signature):
        raise _invalid("bad_signature", "token signature is invalid")
    try:
        return kid, b64decode(payload_b64)
    except ValueError:
        raise _invalid("malformed", "token encoding is not canonical") from None


def _jwt_header(header_b64: str) -> str:
    """The ``kid`` of a JWT header that passes every header rule."""
    try:
        header_bytes = b64decode(header_b64)
    except ValueError:
        raise _invalid("malformed", "token encoding is not canonical") from None
    try:
        header = json_object(header_bytes)
    except ValueError:
        raise _invalid("malformed", "token header is not a JSON object") from None
    if not header.keys() <= _KNOWN_HEADER:
        raise _invalid("malformed", "token header has an unknown member")
    alg, typ, kid = header.get("alg"), header.get("typ"), header.get("kid")
    if not isinstance(alg, str) or not isinstance(typ, (str, type(None))) or not isinstance(kid, (str, type(None))):
        raise _invalid("malformed", "token header members are of the wrong type")
    if not header.keys().isdisjoint(_FORBIDDEN_HEADER):
        raise _invalid("malformed", "token header carries a forbidden parameter")
    if alg != "EdDSA":
        raise _invalid("malformed", "token algorithm is not EdDSA")
    media = typ or ""
    if not media.isascii():
        raise _invalid("malformed", "token type is not at+jwt")
    if media[:12].lower() == "application/":
        media = media[12:]
    if media.lower() != "at+jwt":
        raise _invalid("malformed", "token type is not at+jwt")
    if kid is None:
        raise _invalid("malformed", "token names no key id")
    return kid


def _shaped_time(value: Any, fmt: str) -> bool:
    """A time of the right JSON type: an RFC 3339 string (PASETO) or an
    integer that fits 64 bits (JWT). Its value is read later."""
    if fmt == "paseto":
        return isinstance(value, str)
    return type(value) is int and -(2**63) <= value <= _I64_MAX


def _read_time(value: Any, fmt: str) -> int:
    if fmt == "paseto":
        return rfc3339(value)
    if value < 0:
        raise ValueError("a NumericDate is not negative")
    return value


def _bad() -> InvalidToken:
    return _invalid("invalid_claims", "token claims are missing, duplicated or of the wrong type")


def _claims(payload: bytes, fmt: str, kid: str, policy: Policy, now: int) -> tuple[VerifiedToken, int]:
    try:
        c = json_object(payload)
    except ValueError:
        raise _bad() from None
    # The shape first: members, types (as the service's strict parse).
    keys = c.keys()
    if not keys <= _CLAIMS or not _REQUIRED <= keys:
        raise _bad()
    iss, aud, sub, jti, workspace, scope = c["iss"], c["aud"], c["sub"], c["jti"], c["workspace"], c.get("scope")
    if (
        type(iss) is not str
        or type(sub) is not str
        or type(c["client_id"]) is not str
        or type(jti) is not str
        or type(workspace) is not str
        or not (scope is None or type(scope) is str)
    ):
        raise _bad()
    if type(aud) is not str and not (type(aud) is list and all(type(a) is str for a in aud)):
        raise _bad()
    if fmt == "paseto":
        shaped = type(c["iat"]) is str and type(c["nbf"]) is str and type(c["exp"]) is str
    else:
        shaped = _shaped_time(c["iat"], fmt) and _shaped_time(c["nbf"], fmt) and _shaped_time(c["exp"], fmt)
    if not shaped:
        raise _bad()

    if iss != policy.issuer:
        raise _invalid("wrong_issuer", "token issuer is wrong")
    if aud != policy.audience and not (isinstance(aud, list) and policy.audience in aud):
        raise _invalid("wrong_audience", "token audience is wrong")
    if sub != c["client_id"]:
        raise _bad()
    if sub.startswith("admin:"):
        admin, app_id = True, None
        if not is_name(sub[len("admin:") :]):
            raise _bad()
    elif is_prefixed_id(sub, "app_"):
        admin, app_id = False, sub
    else:
        raise _bad()
    if not is_prefixed_id(jti, "tok_") or not is_prefixed_id(workspace, "ws_"):
        raise _bad()
    scopes = _scopes.from_claim(scope) if scope is not None else ()
    if any(_scopes.is_admin(s) != admin for s in scopes):
        raise _bad()
    try:
        iat, nbf, exp = (_read_time(c[name], fmt) for name in ("iat", "nbf", "exp"))
    except ValueError:
        raise _bad() from None
    if exp - iat > (policy.max_admin_lifetime if admin else policy.max_lifetime):
        raise _invalid("invalid_claims", "token lifetime exceeds the maximum")
    if now > exp + policy.leeway:
        raise _invalid("expired", "token has expired")
    if nbf > now + policy.leeway:
        raise _invalid("not_yet_valid", "token is not valid yet")
    if iat > now + policy.leeway:
        raise _invalid("not_yet_valid", "token was issued in the future")
    verified = VerifiedToken(
        token_id=jti,
        app_id=app_id,
        workspace=workspace,
        scopes=scopes,
        expires_at=_utc(exp),
        issued_at=_utc(iat),
        format=fmt,
        kid=kid,
        subject=sub,
    )
    return verified, iat


def _utc(unix: int) -> _dt.datetime:
    try:
        return _dt.datetime.fromtimestamp(unix, _dt.timezone.utc)
    except (OverflowError, OSError, ValueError):
        return _dt.datetime.max.replace(tzinfo=_dt.timezone.utc)


__all__ = ["MAX_TOKEN_LEN", "Policy", "VerifiedToken", "verify_token"]
