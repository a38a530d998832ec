"""The HTML report: one self-contained page for people, made from the JSON report's own data.

Everything shown comes from `json_report.as_dict`, so the page and the JSON never disagree. The
page has its style inline and no script, image or link to anything outside it. Every value is
escaped: evidence is what the implementation under test sent and may hold markup.
"""

from __future__ import annotations

import json
from collections import Counter
from contextlib import suppress
from datetime import datetime
from html import escape
from pathlib import Path
from typing import Any

STATUSES = ("passed", "failed", "error", "not-applicable")
LABELS = {"passed": "pass", "failed": "FAIL", "error": "ERROR", "not-applicable": "n/a"}

STYLE = """
body { font: 15px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 72em; padding: 0 1em;
  color: #1b1b1b; }
h1 { font-size: 1.5em; margin-bottom: .2em; }
h2 { font-size: 1.2em; margin-top: 2em; border-bottom: 1px solid #ccc; }
h3 { font-size: 1.05em; margin: 0; }
table { border-collapse: collapse; margin: .5em 0; }
th, td { border: 1px solid #ccc; padding: .25em .6em; text-align: left; vertical-align: top; }
td.n { text-align: right; }
dl.run { display: grid; grid-template-columns: max-content auto; gap: .15em 1em; }
dl.run dt { font-weight: 600; }
dl.run dd { margin: 0; }
.verdict { font-size: 1.2em; font-weight: 700; padding: .4em .8em; display: inline-block; }
.verdict.yes { background: #dff3df; color: #0b5d1e; }
.verdict.no { background: #fbe0e0; color: #8a1010; }
.status-passed .mark { color: #0b5d1e; }
.status-failed .mark { color: #b00020; font-weight: 700; }
.status-error .mark { color: #8b008b; font-weight: 700; }
.status-not-applicable .mark { color: #666; }
code, pre { font-family: ui-monospace, monospace; font-size: 13px; }
pre { background: #f6f6f6; border: 1px solid #ddd; padding: .5em; white-space: pre-wrap;
  overflow-wrap: anywhere; max-height: 30em; overflow: auto; }
section.check { border-left: 4px solid #b00020; padding: .2em 0 .2em 1em; margin: 1.5em 0; }
section.check.status-error { border-color: #8b008b; }
section.check.status-not-applicable { border-color: #999; }
.filter { margin: .5em 0; }
body:has(#problems-only:checked) tr.status-passed { display: none; }
@media print { .filter { display: none; } pre { max-height: none; } }
"""


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def _when(stamp: str) -> datetime | None:
    with suppress(ValueError):
        return datetime.fromisoformat(stamp)
    return None


def _header(data: dict[str, Any]) -> list[str]:
    started, finished = _when(data["startedAt"]), _when(data["finishedAt"])
    took = f" ({(finished - started).total_seconds():.1f} s)" if started and finished else ""
    verdict = (
        '<p class="verdict yes">Conforms</p>'
        if data["conforms"]
        else '<p class="verdict no">Does not conform</p>'
    )
    return [
        f"<h1>Care Exchange conformance of {_e(data['target'])}</h1>",
        verdict,
        "<p>The verdict: every selected level-1 (required) check must pass.</p>",
        '<dl class="run">',
        f"<dt>Target</dt><dd><code>{_e(data['target'])}</code></dd>",
        f"<dt>Suite</dt><dd>{_e(data['suite']['name'])} {_e(data['suite']['version'])}</dd>",
        f"<dt>Seed</dt><dd><code>{_e(data['seed'])}</code> (repeat with "
        f"<code>--seed {_e(data['seed'])}</code>)</dd>",
        f"<dt>Started</dt><dd>{_e(data['startedAt'])}</dd>",
        f"<dt>Finished</dt><dd>{_e(data['finishedAt'])}{_e(took)}</dd>",
        "</dl>",
    ]


def _summary(data: dict[str, Any]) -> list[str]:
    heads = "".join(f"<th>{_e(status)}</th>" for status in STATUSES)
    total = sum(data["summary"][status] for status in STATUSES)
    lines = [
        "<h2>Summary</h2>",
        "<h3>By status</h3>",
        f'<table class="by-status"><tr>{heads}<th>checks</th></tr><tr>',
        *(f'<td class="n">{_e(data["summary"][status])}</td>' for status in STATUSES),
        f'<td class="n">{total}</td></tr></table>',
        "<h3>By area</h3>",
        f'<table class="by-area"><tr><th>area</th>{heads}<th>checks</th></tr>',
    ]
    areas: dict[str, Counter[str]] = {}
    for result in data["results"]:
        areas.setdefault(result["area"], Counter())[result["status"]] += 1
    for area, counts in areas.items():
        cells = "".join(f'<td class="n">{counts[status]}</td>' for status in STATUSES)
        total = sum(counts.values())
        lines.append(f'<tr><td>{_e(area)}</td>{cells}<td class="n">{total}</td></tr>')
    lines.append("</table>")
    return lines


def _checks(data: dict[str, Any]) -> list[str]:
    lines = [
        "<h2>Checks</h2>",
        '<p class="filter"><label><input type="checkbox" id="problems-only"> '
        "Hide the checks that passed</label></p>",
        '<table class="checks"><tr><th>id</th><th>status</th><th>level</th><th>title</th>'
        "<th>clause</th><th>seconds</th></tr>",
    ]
    for result in data["results"]:
        check_id, status = _e(result["id"]), result["status"]
        shown = f'<a href="#{check_id}">{check_id}</a>' if status != "passed" else f"{check_id}"
        lines.append(
            f'<tr class="status-{_e(status)}" data-id="{check_id}"><td><code>{shown}</code></td>'
            f'<td class="mark">{_e(LABELS.get(status, status))}</td>'
            f"<td>L{_e(result['level'])}</td><td>{_e(result['title'])}</td>"
            f"<td><code>{_e(result['clause'])}</code></td>"
            f'<td class="n">{_e(result["seconds"])}</td></tr>'
        )
    lines.append("</table>")
    return lines


def _body(text: str | None) -> str:
    """A body for a <pre>: JSON indented when it parses, otherwise as it was."""
    if text is None:
        return "(no body)"
    with suppress(ValueError):
        return json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    return text


def _headers(headers: dict[str, str]) -> str:
    return "\n".join(f"{name}: {value}" for name, value in headers.items())


def _exchange(exchange: dict[str, Any]) -> list[str]:
    request_body = exchange["request_body"]
    request = "\n".join(
        (
            f"{exchange['method']} {exchange['url']}",
            _headers(exchange["request_headers"]),
            "",
            _body(request_body) if request_body is not None else "",
        )
    ).rstrip()
    response = "\n".join(
        (
            f"HTTP {exchange['status']}",
            _headers(exchange["response_headers"]),
            "",
            _body(exchange["response_body"]),
        )
    )
    return [
        "<h4>Request</h4>",
        f'<pre class="request">{_e(request)}</pre>',
        "<h4>Response</h4>",
        f'<pre class="response">{_e(response)}</pre>',
    ]


def _details(data: dict[str, Any]) -> list[str]:
    shown = [result for result in data["results"] if result["status"] != "passed"]
    lines = ["<h2>Failures, errors and checks that did not apply</h2>"]
    if not shown:
        lines.append("<p>None: every check passed.</p>")
    for result in shown:
        check_id, status = _e(result["id"]), result["status"]
        lines += [
            f'<section class="check status-{_e(status)}" id="{check_id}">',
            f'<h3><span class="mark">{_e(LABELS.get(status, status))}</span> '
            f"<code>{check_id}</code> {_e(result['title'])}</h3>",
            f"<p>Level {_e(result['level'])}; clause <code>{_e(result['clause'])}</code></p>",
        ]
        if result["note"]:
            lines.append(f'<p class="note">{_e(result["note"])}</p>')
        for failure in result["failures"]:
            lines += [
                f'<p class="message">{_e(failure["message"])}</p>',
                f'<p class="expected"><strong>Expected:</strong> {_e(failure["expected"])}</p>',
            ]
            if failure["exchange"] is not None:
                lines += _exchange(failure["exchange"])
        lines.append("</section>")
    if data["notCleanedUp"]:
        lines.append("<h2>Not retracted</h2><ul>")
        lines += [f"<li>{_e(left)}</li>" for left in data["notCleanedUp"]]
        lines.append("</ul>")
    return lines


def render(data: dict[str, Any]) -> str:
    """The page for a report made by `json_report.as_dict`."""
    verdict = "conforms" if data["conforms"] else "does not conform"
    title = f"Conformance of {data['target']}: {verdict}"
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en">',
            "<head>",
            '<meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{_e(title)}</title>",
            f"<style>{STYLE}</style>",
            "</head>",
            "<body>",
            *_header(data),
            *_summary(data),
            *_checks(data),
            *_details(data),
            f"<footer><p>Written by {_e(data['suite']['name'])} {_e(data['suite']['version'])}"
            f" from the data of its JSON report ({_e(data['format'])}).</p></footer>",
            "</body>",
            "</html>",
            "",
        ]
    )


def write(data: dict[str, Any], path: Path) -> None:
    path.write_text(render(data), encoding="utf-8")
