"""The change feed: RPDE's rules.

A reader that follows `next` misses nothing and sees each change once, deletions included.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise
from typing import Any

from care_exchange_conformance.context import Context
from care_exchange_conformance.registry import check

FEED = "spec/openapi.yaml#/paths/~1v1~1feed~1{type}/get"
PAGES_LIMIT = 2000


@dataclass
class Walk:
    """Every item a reader saw following `next` to the last page, and that page's `next`."""

    items: list[dict[str, Any]]
    last_next: str


def walk(context: Context, start: str) -> Walk:
    """Follow `next` from `start` until a page has no items (RPDE's last page)."""
    items: list[dict[str, Any]] = []
    url = start
    for _ in range(PAGES_LIMIT):
        answer = context.get(url, party="subscriber")
        context.expect_status(answer, 200, "a feed page could not be read")
        page = context.expect_schema(answer, "FeedPage")
        if not page["items"]:
            context.expect(
                page["next"] == url or page["next"].endswith(url),
                f"The last page's next is {page['next']!r}, not the page itself.",
                "on the last page, next repeats the URL that was read (RPDE)",
                answer,
            )
            return Walk(items, page["next"])
        if items:
            last, first = items[-1]["modified"], page["items"][0]["modified"]
            context.expect(
                first > last,
                f"The page after change {last} starts at change {first}: a reader following "
                "next sees changes twice (or loops).",
                "each page to start after the last change of the page before (RPDE)",
                answer,
            )
        items += page["items"]
        url = page["next"]
    context.fail(f"The feed did not end within {PAGES_LIMIT} pages.", "a last, empty page")


def _start(context: Context) -> str:
    return f"/v1/feed/{context.record_type()}"


def _of(walked: Walk, record_id: str) -> list[dict[str, Any]]:
    return [item for item in walked.items if item["id"] == record_id]


@check("CX-FEED-001", "The feed orders its items by change and repeats none", clause=FEED)
def ordered(context: Context) -> None:
    for _ in range(3):
        context.published_record()
    walked = walk(context, _start(context))
    changes = [item["modified"] for item in walked.items]
    for earlier, later in pairwise(changes):
        context.expect(
            earlier < later,
            f"The feed's items are out of order: change {earlier} is followed by {later}.",
            "each item's modified greater than the one before, across pages (RPDE)",
        )


@check(
    "CX-FEED-002",
    "A published record appears in the feed with its latest version as data",
    clause=FEED,
)
def published(context: Context) -> None:
    record, _ = context.published_record()
    found = _of(walk(context, _start(context)), record["id"])
    context.expect(bool(found), "A record published for a subscriber is not in its feed.", "it")
    item = found[-1]
    context.expect(
        item["state"] == "updated" and item.get("data", {}).get("data") == record,
        f"The feed item is {item['state']!r} with other data than was published.",
        'state "updated" with the record\'s envelope as data',
    )


@check(
    "CX-FEED-003",
    "A retracted record appears in the feed as deleted, without data",
    clause=FEED,
)
def deleted(context: Context) -> None:
    record, published = context.published_record()
    path = f"/v1/records/{record['recordType']}/{record['id']}"
    gone = context.request(
        "DELETE", path, party="publisher", headers={"If-Match": published.headers["ETag"]}
    )
    context.expect_status(gone, 204, "the record could not be retracted")
    found = _of(walk(context, _start(context)), record["id"])
    context.expect(bool(found), "A retracted record is missing from the feed.", "a deleted item")
    item = found[-1]
    context.expect(
        item["state"] == "deleted" and "data" not in item,
        f"The retracted record's item is {item['state']!r}"
        + (" with data" if "data" in item else "")
        + ".",
        'state "deleted" and no data (RPDE)',
    )


@check(
    "CX-FEED-004",
    "A change made after a reader reached the end is found from the last page's next",
    clause=FEED,
)
def change_during_the_walk(context: Context) -> None:
    context.published_record()
    walked = walk(context, _start(context))
    record, _ = context.published_record()
    resumed = walk(context, walked.last_next)
    context.expect(
        bool(_of(resumed, record["id"])),
        "A record published after the walk reached the end was not found from its next.",
        "every later change after the last page's next (RPDE)",
    )
    seen = {(item["id"], item["modified"]) for item in walked.items}
    again = [item["id"] for item in resumed.items if (item["id"], item["modified"]) in seen]
    context.expect(
        not again,
        f"Resuming from the last page's next repeated items already read: {again[:3]}.",
        "only changes after the last one read",
    )
