"""The page each problem `type` URI names: what the problem means and what to do about it.

RFC 9457 lets a problem's `type` resolve to documentation for people; the reference server
answers it for its own catalogue, so a developer who pastes the URI of an error sees why.
"""

from __future__ import annotations

from html import escape

from care_exchange_server.problems import CATALOGUE

DOCS_BASE = "https://care-exchange.org/docs/errors/"


def problem_page(code: str) -> str | None:
    """The HTML page of a code of the catalogue; None for a code the server never answers."""
    kind = CATALOGUE.get(code)
    if kind is None:
        return None
    title = escape(kind.title)
    docs = escape(f"{DOCS_BASE}{code}/")
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(code)} - {title}</title>
</head>
<body>
<main>
<h1>{title}</h1>
<dl>
<dt>Code</dt><dd><code>{escape(code)}</code></dd>
<dt>HTTP status</dt><dd>{kind.status}</dd>
</dl>
<h2>What it means</h2>
<p>{escape(kind.about)}</p>
<h2>What to do</h2>
<p>{escape(kind.remedy)}</p>
<p>The problem document's <code>detail</code> says what went wrong with your request, and its
<code>requestId</code> names it in the server's logs.
See also <a href="{docs}">{docs}</a>.</p>
</main>
</body>
</html>
"""
