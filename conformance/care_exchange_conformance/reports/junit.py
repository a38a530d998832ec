"""JUnit XML, which every CI system shows: one test case per check, grouped by area."""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from collections import defaultdict
from pathlib import Path

from care_exchange_conformance.runner import Report, Result, Status


def _case(suite: ElementTree.Element, result: Result) -> None:
    case = ElementTree.SubElement(
        suite,
        "testcase",
        classname=f"care_exchange_conformance.{result.check.area.lower()}",
        name=f"{result.check.id} {result.check.title}",
        time=f"{result.seconds:.3f}",
    )
    if result.status is Status.FAILED:
        for failure in result.failures:
            element = ElementTree.SubElement(case, "failure", message=failure.message)
            lines = [f"Expected: {failure.expected}", f"Clause: {result.check.clause}"]
            if failure.exchange is not None:
                exchange = failure.exchange
                lines += [
                    f"Request: {exchange.method} {exchange.url}",
                    f"Response: {exchange.status}",
                    exchange.response_body or "",
                ]
            element.text = "\n".join(lines)
    elif result.status is Status.ERROR:
        ElementTree.SubElement(case, "error", message=result.note or "error")
    elif result.status is Status.NOT_APPLICABLE:
        ElementTree.SubElement(case, "skipped", message=result.note or "not applicable")


def render(report: Report) -> str:
    areas: dict[str, list[Result]] = defaultdict(list)
    for result in report.results:
        areas[result.check.area].append(result)
    root = ElementTree.Element("testsuites", name="care-exchange-conformance")
    for area, results in areas.items():
        suite = ElementTree.SubElement(
            root,
            "testsuite",
            name=area,
            tests=str(len(results)),
            failures=str(sum(r.status is Status.FAILED for r in results)),
            errors=str(sum(r.status is Status.ERROR for r in results)),
            skipped=str(sum(r.status is Status.NOT_APPLICABLE for r in results)),
            time=f"{sum(r.seconds for r in results):.3f}",
        )
        for result in results:
            _case(suite, result)
    ElementTree.indent(root)
    return ElementTree.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def write(report: Report, path: Path) -> None:
    path.write_text(render(report), encoding="utf-8")
