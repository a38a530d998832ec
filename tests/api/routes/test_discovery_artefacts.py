"""What a server hands out about itself: its OpenAPI document, the standard's files, its pages.

Each is fetched from a running app on SQLite and on PostgreSQL, the way a new user's tools
(Swagger UI, Postman, a client generator, a browser) would fetch it.
"""

from __future__ import annotations

import html
import json
import re
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from fastapi.testclient import TestClient
from openapi_spec_validator import validate

from care_exchange_server.problems import CATALOGUE, PROBLEM_BASE
from care_exchange_standard import Standard
from care_exchange_standard.bundle import external_references
from care_exchange_standard.standard import BASE_URI
from tests.api.conftest import ISSUER
from tests.api.world import World

PROBLEM_JSON = "application/problem+json"


class _Assets(HTMLParser):
    """Every URL a page makes the browser load, and whether it has an inline script."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.inline_script = False
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "script":
            self._in_script = "src" not in found
        for name in ("src", "href"):
            if found.get(name) and (tag != "a"):
                self.urls.append(str(found[name]))

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline_script = True


def _own(url: str) -> bool:
    parts = urlsplit(url)
    return not parts.scheme and not parts.netloc and url.startswith("/")


def test_the_served_document_is_self_contained_valid_and_names_this_server(
    client: TestClient,
) -> None:
    as_yaml = client.get("/openapi.yaml")
    as_json = client.get("/openapi.json")
    assert as_yaml.status_code == as_json.status_code == 200
    assert as_yaml.headers["content-type"] == "application/yaml"
    assert as_json.headers["content-type"] == "application/json"
    document: dict[str, Any] = yaml.safe_load(as_yaml.text)
    assert document == as_json.json()
    assert list(external_references(document)) == []
    assert [server["url"] for server in document["servers"]] == [ISSUER]
    validate(document)
    for answer in (as_yaml, as_json):
        assert re.fullmatch(r'"[0-9a-f]{64}"', answer.headers["etag"])
        assert answer.headers["cache-control"] == "public, max-age=3600"
        again = client.get(answer.url.path, headers={"If-None-Match": answer.headers["etag"]})
        assert (again.status_code, again.content) == (304, b"")
        assert again.headers["etag"] == answer.headers["etag"]


def test_every_schema_is_served_at_the_path_of_its_id(
    client: TestClient, standard: Standard
) -> None:
    assert len(standard.documents) > 10
    for uri, path in standard.paths.items():
        assert uri.startswith(BASE_URI)
        answer = client.get(urlsplit(uri).path)
        assert answer.status_code == 200, uri
        assert answer.headers["content-type"] == "application/schema+json"
        assert answer.json()["$id"] == uri
        assert answer.content == path.read_bytes()
        assert answer.headers["cache-control"] == "public, max-age=3600"
        unchanged = client.get(
            urlsplit(uri).path, headers={"If-None-Match": answer.headers["etag"]}
        )
        assert unchanged.status_code == 304


def test_every_codelist_a_schema_names_is_served_beside_the_schemas(
    client: TestClient, standard: Standard
) -> None:
    named = {
        match
        for document in standard.documents.values()
        for match in re.findall(r'"codelist": "([^"]+)"', json.dumps(document))
    }
    assert named and named <= set(standard.codelists)
    for name in standard.codelists:
        answer = client.get(urlsplit(BASE_URI).path + f"codelists/{name}")
        assert answer.status_code == 200, name
        assert answer.headers["content-type"] == "text/csv; charset=utf-8"
        assert answer.text.startswith("Code,Title,Description")
        assert answer.content == (standard.directory / "codelists" / name).read_bytes()


def test_the_rules_and_the_shipped_return_templates_are_served(
    client: TestClient, standard: Standard
) -> None:
    served = 0
    for folder in ("rules", "return-templates"):
        for path in sorted((standard.directory / folder).glob("*.json")):
            answer = client.get(urlsplit(BASE_URI).path + f"{folder}/{path.name}")
            assert answer.status_code == 200, path
            assert answer.headers["content-type"] == "application/json"
            assert answer.content == path.read_bytes()
            served += 1
    assert served >= len(standard.record_types)
    rules = client.get("/schemas/v1/rules/capacity-snapshot.json").json()
    assert rules["recordType"] == "capacity-snapshot"


@pytest.mark.parametrize(
    "path",
    [
        "/schemas/v1/rules/no-such-type.json",
        "/schemas/v1/records/no-such-record.json",
        "/schemas/v1/records/Capacity-Snapshot.json",
        "/schemas/v1/records/care-levels.csv",
        "/schemas/v1/codelists/care-levels.json",
        "/schemas/v1/elsewhere/period.json",
        "/schemas/v1/records/..%2Fcommon%2Fperiod.json",
        "/schemas/v1/codelists/..%2F..%2F..%2Fspec%2Fopenapi.yaml",
        "/schemas/v1/common/%2e%2e%2f%2e%2e%2fVERSION",
        "/schemas/v1/records/%2E%2E",
        "/schemas/v1/records/capacity-snapshot.json%00",
        "/schemas/v1/records/..",
        "/docs/assets/LICENSE",
        "/docs/assets/..%2F..%2Fapp.py",
        "/problems/no_such_problem",
        "/problems/Not_Found",
        "/problems/..%2Fdocs",
    ],
)
def test_a_name_that_is_not_served_is_a_404_problem(client: TestClient, path: str) -> None:
    answer = client.get(path)
    assert answer.status_code == 404, answer.text
    assert answer.headers["content-type"] == PROBLEM_JSON
    assert answer.json()["code"] == "not_found"


def test_every_problem_of_the_catalogue_has_a_page(client: TestClient) -> None:
    for code, kind in CATALOGUE.items():
        answer = client.get(f"/problems/{code}")
        assert answer.status_code == 200, code
        assert answer.headers["content-type"] == "text/html; charset=utf-8"
        assert answer.headers["content-security-policy"].startswith("default-src 'none'")
        page = answer.text
        assert "<token>" not in page, "catalogue text is escaped, never markup"
        for text in (kind.title, kind.about, kind.remedy):
            assert text in html.unescape(page), (code, text)
        assert f"<dd>{kind.status}</dd>" in page
        assert f'href="https://care-exchange.org/docs/errors/{code}/"' in page


def test_a_problem_s_type_resolves_on_the_server_that_sent_it(world: World) -> None:
    refused = world.call("provider", "GET", "/v1/records/not-a-type")
    problem = refused.json()
    assert problem["type"] == PROBLEM_BASE + "unknown_record_type"
    here = urlsplit(problem["type"])._replace(scheme="https", netloc=urlsplit(ISSUER).netloc)
    page = world.client.get(here.geturl())
    assert page.status_code == 200
    assert f"<h1>{problem['title']}</h1>" in page.text


def test_the_reference_page_loads_nothing_but_this_server_s_files(client: TestClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    policy = dict(
        (part.split()[0], part.split()[1:])
        for part in page.headers["content-security-policy"].split(";")
    )
    assert policy["default-src"] == ["'none'"]
    assert policy["script-src"] == ["'self'"]
    parser = _Assets()
    parser.feed(page.text)
    assert not parser.inline_script, "an inline script would need 'unsafe-inline'"
    assert len(parser.urls) >= 3
    scripts: list[str] = []
    for url in parser.urls:
        assert _own(url), url
        asset = client.get(url)
        assert asset.status_code == 200, url
        assert asset.headers["content-type"].split(";")[0] in (
            "text/css",
            "text/javascript",
            "application/yaml",
            "application/json",
        ), url
        if url.endswith(".js"):
            scripts.append(asset.text)
    starter = next(text for text in scripts if "SwaggerUIBundle(" in text and len(text) < 5000)
    loaded = re.findall(r'url: "([^"]+)"', starter)
    assert loaded == ["/openapi.json"]
    assert client.get(loaded[0]).status_code == 200
    assert "validatorUrl: null" in starter


def test_the_vendored_swagger_ui_reads_openapi_3_1(client: TestClient) -> None:
    bundle = client.get("/docs/assets/swagger-ui-bundle.js")
    version = re.search(r'PACKAGE_VERSION:"(\d+)\.(\d+)\.(\d+)"', bundle.text)
    assert version is not None
    assert int(version.group(1)) >= 5, "Swagger UI reads OpenAPI 3.1 from 5.0.0"
    unchanged = client.get(bundle.url.path, headers={"If-None-Match": bundle.headers["etag"]})
    assert unchanged.status_code == 304


def test_the_root_document_links_to_every_served_document(client: TestClient) -> None:
    links = client.get("/").json()["links"]
    assert links["openapiJson"] == "/openapi.json"
    assert links["docs"] == "/docs"
    for link in links.values():
        assert client.get(link).status_code == 200, link
