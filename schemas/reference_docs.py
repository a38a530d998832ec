"""The reference documentation in `docs/reference/`, generated from the schemas and codelists.

Run `python -m schemas.reference_docs` after changing a schema; a test fails while the committed
pages differ from what this module renders, so the documentation cannot drift from the standard.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from schemas.codelists import Codelist
from schemas.fields import ITEMS, Field
from schemas.standard import SCHEMA_DIR, STANDARD_VERSION, Standard, TypeInfo, load_standard

DOCS_DIR = SCHEMA_DIR.parent / "docs" / "reference"
EXAMPLES_DIR = SCHEMA_DIR / "examples"


def documented_fields(info: TypeInfo) -> list[Field]:
    """The fields a reader looks up: every named property, not the array-item placeholders."""
    return [field for path, field in info.fields.items() if path and path[-1] != ITEMS]


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def display_name(field: Field) -> str:
    """`beds[].occupied`: the path as a reader would write it."""
    name = ""
    for part in field.path:
        name += "[]" if part == ITEMS else (f".{part}" if name else part)
    return name


def _item_schema(info: TypeInfo, field: Field) -> Mapping[str, Any]:
    item = info.fields.get((*field.path, ITEMS))
    return item.schema if item else {}


def type_summary(schema: Mapping[str, Any], item: Mapping[str, Any] | None = None) -> str:
    """A short statement of the value a field takes, with its main constraints."""
    if "const" in schema:
        return f"`{json.dumps(schema['const'])}`"
    kind = schema.get("type", "any")
    kind = " or ".join(kind) if isinstance(kind, list) else str(kind)
    if kind == "array" and item is not None:
        inner = type_summary(item)
        text = f"array of {inner}"
    elif "enum" in schema or "codelist" in schema:
        text = "code"
    else:
        text = kind
    notes = []
    if "format" in schema:
        notes.append(str(schema["format"]))
    for keyword, sign in (("minimum", "≥"), ("maximum", "≤")):
        if keyword in schema:
            notes.append(f"{sign} {schema[keyword]}")
    for keyword, words in (("minItems", "at least {} items"), ("maxLength", "up to {} characters")):
        if keyword in schema:
            notes.append(words.format(schema[keyword]))
    if "pattern" in schema:
        notes.append(f"pattern `{schema['pattern']}`")
    return text + (f" ({', '.join(notes)})" if notes else "")


def _codelist_note(schema: Mapping[str, Any]) -> str:
    name = schema.get("codelist")
    if not name:
        return ""
    stem = str(name).removesuffix(".csv")
    kind = "open" if schema.get("openCodelist") else "closed"
    return f"Codes: [{stem}](#codelist-{stem}) ({kind} codelist)."


def _field_row(info: TypeInfo, field: Field) -> str:
    item = _item_schema(info, field)
    flags = []
    if field.personal_data:
        flags.append("**Personal data.**")
    if field.deprecation is not None:
        note = field.deprecation
        flags.append(f"**Deprecated** in {note.get('version')}: {note.get('description')}")
    text = " ".join(
        part
        for part in (
            f"**{field.title}.** {field.description}",
            _codelist_note(field.schema) or _codelist_note(item),
            *flags,
        )
        if part
    )
    kind = type_summary(field.schema, item if field.schema.get("type") == "array" else None)
    required = "yes" if field.required else "no"
    anchor = f'<a id="{field.name}"></a>`{display_name(field)}`'
    return f"| {anchor} | {_cell(kind)} | {required} | {_cell(text)} |"


def _codelist_section(codelist: Codelist) -> list[str]:
    stem = codelist.name.removesuffix(".csv")
    lines = [
        f'### <a id="codelist-{stem}"></a>{stem}',
        "",
        f"From [`schemas/codelists/{codelist.name}`](../../schemas/codelists/{codelist.name}).",
        "",
        "| " + " | ".join(codelist.columns) + " |",
        "|" + "---|" * len(codelist.columns),
    ]
    lines += [
        "| " + " | ".join(_cell(row[column]) for column in codelist.columns) + " |"
        for row in codelist.rows.values()
    ]
    return [*lines, ""]


def _examples_section(info: TypeInfo) -> list[str]:
    lines = ["## Examples", ""]
    expected_file = EXAMPLES_DIR / "expected-errors" / f"{info.name}.json"
    expected = {}
    if expected_file.exists():
        expected = json.loads(expected_file.read_text(encoding="utf-8"))
    for verdict in ("valid", "invalid"):
        for path in sorted((EXAMPLES_DIR / verdict / info.name).glob("*.json")):
            heading = f"### {verdict.capitalize()}: `{path.name}`"
            lines += [heading, ""]
            if verdict == "invalid":
                reasons = ", ".join(
                    f"`{error['keyword']}` at `{error['pointer']}`"
                    for error in expected.get(path.name, [])
                )
                lines += [f"Must fail with {reasons}.", ""]
            body = path.read_text(encoding="utf-8").strip()
            lines += ["```json", body, "```", ""]
    return lines


def render_type(standard: Standard, info: TypeInfo) -> str:
    """One type's page: what it is for, every field, the codes it takes, and its examples."""
    schema = info.schema
    relative = info.path.relative_to(standard.directory).as_posix()
    lines = [
        f"# {schema.get('title', info.name)} (`{info.name}`)",
        "",
        "<!-- Generated by `python -m schemas.reference_docs`; do not edit by hand. -->",
        "",
        str(schema.get("description", "")),
        "",
        f"- Kind: {info.kind} type; `{info.discriminator}` is `{info.name}`.",
        f"- Schema: [`schemas/{relative}`](../../schemas/{relative}), `$id` `{info.uri}`.",
        f"- Standard version: {STANDARD_VERSION}.",
        "",
        "## Fields",
        "",
        "| Field | Type | Required | Meaning |",
        "|---|---|---|---|",
        *(_field_row(info, field) for field in documented_fields(info)),
        "",
    ]
    names = sorted(
        {f.codelist for f in info.fields.values() if f.codelist} & set(standard.codelists)
    )
    if names:
        lines += ["## Codelists", ""]
        for name in names:
            lines += _codelist_section(standard.codelists[name])
    lines += _examples_section(info)
    return "\n".join(lines).rstrip() + "\n"


def render_index(standard: Standard) -> str:
    """The table of contents: every type, what it is for, and how many fields it has."""
    lines = [
        f"# Care Exchange {STANDARD_VERSION}: reference",
        "",
        "<!-- Generated by `python -m schemas.reference_docs`; do not edit by hand. -->",
        "",
        "| Type | Kind | Fields | What it is for |",
        "|---|---|---|---|",
    ]
    for info in standard.types.values():
        description = _cell(str(info.schema.get("description", "")))
        count = len(documented_fields(info))
        lines.append(f"| [`{info.name}`]({info.name}.md) | {info.kind} | {count} | {description} |")
    return "\n".join(lines) + "\n"


def render_all(standard: Standard) -> dict[str, str]:
    """Every page, by file name inside `docs/reference/`."""
    pages = {"index.md": render_index(standard)}
    for info in standard.types.values():
        pages[f"{info.name}.md"] = render_type(standard, info)
    return pages


def write_all(directory: Path = DOCS_DIR) -> list[str]:
    """Write the pages and remove pages of types that no longer exist; return what changed."""
    directory.mkdir(parents=True, exist_ok=True)
    pages = render_all(load_standard())
    changed = []
    for stale in sorted(set(p.name for p in directory.glob("*.md")) - set(pages)):
        (directory / stale).unlink()
        changed.append(stale)
    for name, text in pages.items():
        path = directory / name
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            changed.append(name)
    return changed


if __name__ == "__main__":
    updated = write_all()
    sys.stdout.write(f"{len(updated)} page(s) updated in {DOCS_DIR}\n")
