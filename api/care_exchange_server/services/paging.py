"""Keyset paging for every list: one page of rows after a position, and an opaque token.

A token carries the last position served and the query it was served for, so a token from one
listing (or one filter) is refused by another instead of silently paging something else.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Select
from sqlalchemy.orm import InstrumentedAttribute, Session

from care_exchange_server.problems import FieldError, ProblemError

Item = TypeVar("Item")
Position = int | str


@dataclass(frozen=True)
class Page(Generic[Item]):
    """One page of a listing and the token for the next (None on the last page)."""

    items: list[Item]
    next_token: str | None


def encode_token(payload: dict[str, Any]) -> str:
    raw = json.dumps(payload, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(token: str, expected: dict[str, Any], kind: type[Position] = int) -> Any:
    """The position a page token continues from; tokens only work with the query they came from.

    `kind` is the type of the listing's key, so that no token can compare a number with text.
    """
    try:
        padded = token + "=" * (-len(token) % 4)
        payload = json.loads(base64.urlsafe_b64decode(padded.encode()))
        position = payload.pop("after")
        if payload != expected or not _is_position(position, kind):
            raise ValueError
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeDecodeError, AttributeError):
        raise ProblemError(
            "invalid_query",
            "page_token is not a token this listing issued.",
            [FieldError.of_parameter("page_token", "not a valid page token.")],
        ) from None
    return position


def _is_position(position: Any, kind: type[Position]) -> bool:
    if kind is int:
        return type(position) is int and 0 <= position < 2**63
    return type(position) is str and 0 < len(position) <= 256


def keyset(
    session: Session,
    query: Select[Item],
    key: InstrumentedAttribute[Any],
    size: int,
    token: str | None,
    query_key: dict[str, Any],
    *,
    newest_first: bool = False,
) -> Page[Item]:
    """The page of `query`'s rows after the token's position, ordered by the unique `key`."""
    if token is not None:
        after = decode_token(token, query_key, key.type.python_type)
        query = query.where(key < after if newest_first else key > after)
    order = key.desc() if newest_first else key.asc()
    rows = list(session.scalars(query.order_by(order).limit(size + 1)))
    items = rows[:size]
    more = len(rows) > size
    last = getattr(items[-1], key.key) if more else None
    return Page(items, encode_token({"after": last, **query_key}) if more else None)
