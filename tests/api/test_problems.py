"""The problem catalogue, the spec's list of codes and the server's code agree."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from care_exchange_server.problems import CATALOGUE, ProblemError

ROOT = Path(__file__).resolve().parents[2]
SPEC = yaml.safe_load((ROOT / "spec" / "openapi.yaml").read_text(encoding="utf-8"))


def spec_codes() -> dict[str, int]:
    """The codes the spec's Problem schema lists, each with the status it is given there."""
    prose = SPEC["components"]["schemas"]["Problem"]["description"]
    listed = prose.split("Known codes:")[1].split("New codes")[0]
    found: dict[str, int] = {}
    for group, status in re.findall(r"((?:`\w+`[\s,]*)+)\((\d{3})\)", listed):
        for code in re.findall(r"`(\w+)`", group):
            found[code] = int(status)
    return found


def test_the_spec_lists_exactly_the_catalogue_with_the_same_statuses() -> None:
    assert spec_codes() == {code: kind.status for code, kind in CATALOGUE.items()}


def test_every_code_the_server_raises_is_in_the_catalogue() -> None:
    raised = {
        code
        for path in (ROOT / "api" / "care_exchange_server").rglob("*.py")
        for code in re.findall(r'ProblemError\(\s*"(\w+)"', path.read_text(encoding="utf-8"))
    }
    assert raised and raised <= set(CATALOGUE)


def test_every_code_the_spec_names_in_a_response_is_in_the_catalogue() -> None:
    """A problem response names its codes in parentheses: "malformed JSON (`invalid_json`)"."""
    named = {
        code
        for name, response in SPEC["components"]["responses"].items()
        if not name.startswith("OAuth")  # RFC 6749 errors, not problems
        for code in re.findall(r"\(`([a-z_]+)`", response.get("description", ""))
    }
    assert named and named <= set(CATALOGUE), named - set(CATALOGUE)


def test_a_problem_names_its_code_and_the_catalogue_gives_the_rest() -> None:
    problem = ProblemError("precondition_required", "Send If-Match.")
    body = problem.body("req-1")
    assert (problem.status, body["status"], body["title"]) == (
        428,
        428,
        CATALOGUE["precondition_required"].title,
    )
    assert body["type"] == "https://care-exchange.org/problems/precondition_required"
    with pytest.raises(ValueError, match="not a problem of the catalogue"):
        ProblemError("teapot", "No.")


def test_every_kind_of_problem_is_documented_in_a_sentence() -> None:
    for code, kind in CATALOGUE.items():
        assert kind.title and kind.about.endswith("."), code
        assert 400 <= kind.status < 600, code
