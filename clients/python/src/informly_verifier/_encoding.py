"""Strict readers for what tokens and feed pages are made of: canonical
base64url, JSON without duplicate members, RFC 3339 times as the service
writes them, and the service's id shapes. Each raises ``ValueError``; the
caller decides what the failure means."""

from __future__ import annotations

import base64
import binascii
import datetime as _dt
import json
import re
from typing import Any

_B64URL = re.compile(r"[A-Za-z0-9_-]*")


def b64decode(segment: str) -> bytes:
    """Decodes unpadded, canonical base64url (RFC 4648 §5): no ``=``, no
    character outside the alphabet, no non-zero unused trailing bits. A
    lenient decoder would read several strings as the same bytes; a token
    has one spelling."""
    if len(segment) % 4 == 1 or not _B64URL.fullmatch(segment):
        raise ValueError("not base64url")
    try:
        data = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except binascii.Error as e:
        raise ValueError("not base64url") from e
    # The trailing bits are zero exactly when encoding gives back the input.
    if base64.urlsafe_b64encode(data).rstrip(b"=") != segment.encode("ascii"):
        raise ValueError("non-canonical base64url")
    return data


def b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate member {key!r}")
        out[key] = value
    return out


def _no_constants(name: str) -> Any:
    # NaN, Infinity and -Infinity are not JSON.
    raise ValueError(f"{name} is not JSON")


def _checked(value: Any) -> Any:
    """Refuses strings a strict parser would (lone surrogates: not UTF-8)."""
    if isinstance(value, str):
        value.encode("utf-8")
    elif isinstance(value, list):
        for item in value:
            _checked(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            _checked(key)
            _checked(item)
    return value


_DECODER = json.JSONDecoder(object_pairs_hook=_no_duplicates, parse_constant=_no_constants)


def json_object(data: bytes) -> dict[str, Any]:
    """A JSON object, read strictly: it must start with ``{`` (no leading
    whitespace, no array), be UTF-8, and repeat no member."""
    if not data.startswith(b"{"):
        raise ValueError("not a JSON object")
    try:
        text = data.decode("utf-8")
        value = _DECODER.decode(text)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
        raise ValueError("not JSON") from e
    if not isinstance(value, dict):
        raise ValueError("not a JSON object")
    # Text decoded from UTF-8 holds no lone surrogate; only a \u escape can
    # make one.
    if "\\u" in text:
        _checked(value)
    return value


_UTC = _dt.timezone.utc
_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.\d+)?(?:(Z)|([+-])(\d{2}):(\d{2}))",
    re.ASCII,
)
_DAYS_IN_MONTH = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _is_leap_year(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def _days_in_month(year: int, month: int) -> int:
    return 29 if month == 2 and _is_leap_year(year) else _DAYS_IN_MONTH[month - 1]


def _days_from_civil(year: int, month: int, day: int) -> int:
    """Days since 1970-01-01 in the proleptic Gregorian calendar (H. Hinnant's
    algorithm), for any year 0000-9999."""
    year -= month <= 2
    era = year // 400
    yoe = year - era * 400
    doy = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def rfc3339(value: str) -> int:
    """Unix seconds of an RFC 3339 time as the service reads it: uppercase
    ``T`` and ``Z`` (or ``±hh:mm``), fractional seconds of any length,
    dropped. A leap second (``:60``) is accepted only where one can be — the
    last second of a month, in UTC — and read as ``:59``."""
    if len(value) == 20 and value[19] == "Z" and value[10] == "T":
        # The service's own spelling, YYYY-MM-DDTHH:MM:SSZ (three per token):
        # checked here, read by the datetime module's C parser.
        head = value[:19]
        digits = head[0:4] + head[5:7] + head[8:10] + head[11:13] + head[14:16] + head[17:19]
        if (
            head[4] == "-" and head[7] == "-" and head[13] == ":" and head[16] == ":"
            and digits.isascii() and digits.isdigit() and head[17:19] != "60"
        ):
            try:
                return int(_dt.datetime.fromisoformat(head).replace(tzinfo=_UTC).timestamp())
            except ValueError:
                pass  # no such date here (or year 0): the general path says
    match = _RFC3339.fullmatch(value)
    if not match:
        raise ValueError("not an RFC 3339 time")
    year, month, day, hour, minute, second = (int(g) for g in match.group(1, 2, 3, 4, 5, 6))
    offset = 0
    if match.group(7) is None:
        off_hours, off_minutes = int(match.group(9)), int(match.group(10))
        if off_hours > 23 or off_minutes > 59:
            raise ValueError("no such offset")
        offset = (off_hours * 60 + off_minutes) * 60
        if match.group(8) == "-":
            offset = -offset
    return _unix(year, month, day, hour, minute, second, offset)


def _unix(year: int, month: int, day: int, hour: int, minute: int, second: int, offset: int) -> int:
    if not 1 <= month <= 12 or not 1 <= day <= _days_in_month(year, month):
        raise ValueError("no such date")
    if hour > 23 or minute > 59 or second > 60:
        raise ValueError("no such time")
    leap = second == 60
    if leap:
        second = 59
    unix = _days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second - offset
    if leap:
        # In UTC, it must be 23:59:59 on the last day of a month.
        days, in_day = divmod(unix, 86400)
        if in_day != 86399 or not _civil_day_of_month_is_last(days):
            raise ValueError("not a leap second")
    return unix


def _civil_day_of_month_is_last(days: int) -> bool:
    """Whether the day ``days`` after 1970-01-01 is the last of its month."""
    # The next day is the first of a month exactly when this one is the last.
    z = days + 1 + 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    return day == 1


_CROCKFORD = re.compile(r"[0-9A-HJKMNP-TV-Z]{26}", re.ASCII)


def is_prefixed_id(value: str, prefix: str) -> bool:
    """``prefix`` and a 26-character ULID (Crockford base32, uppercase)."""
    return value.startswith(prefix) and bool(_CROCKFORD.fullmatch(value, len(prefix)))


_NAME = re.compile(r"[a-z0-9_.-]{1,64}", re.ASCII)


def is_name(value: str) -> bool:
    return bool(_NAME.fullmatch(value))


_PID = re.compile(r"k4\.pid\.[A-Za-z0-9_-]{44}", re.ASCII)


def is_pid(value: str) -> bool:
    """A PASERK ``k4.pid``: the only key id a PASETO footer may carry."""
    return bool(_PID.fullmatch(value))


_CURSOR = re.compile(r"[A-Za-z0-9_-]{1,256}", re.ASCII)


def is_cursor(value: str) -> bool:
    return bool(_CURSOR.fullmatch(value))
