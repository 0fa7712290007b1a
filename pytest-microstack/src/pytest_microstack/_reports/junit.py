"""A failing test's service logs in the JUnit XML (`--junitxml`), as its `<system-out>`.

CI systems show a test's JUnit XML, not the terminal. pytest writes report
sections there only as captured output, and only with `junit_logging` set;
the services' logs are diagnostics like the failure itself, so they are added
whatever `junit_logging` says, as one more `<system-out>` of the test case
(the schema allows several, after its `<failure>`/`<error>`).

pytest has no public API for this: `_pytest.junitxml`'s `xml_key` and
`LogXML.node_reporter` (the API its own `record_property` fixture uses) are
private, so every use is guarded; where they changed, the logs stay in the
terminal and the failure report only.
"""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET
from typing import Any

import pytest

LOG = logging.getLogger(__name__)
SECTION_MARK = " logs during "  # the report sections RunState adds: "<service> logs during <phase>"
EXCHANGES_MARK = "exchanges during "  # and `_session.exchanges_report`'s: "exchanges during <phase>"


def service_log_sections(report: pytest.TestReport) -> list[tuple[str, str]]:
    """The services' log and exchanges sections of a report (already masked when the report was made)."""
    return [
        (name, text)
        for name, text in report.sections
        if SECTION_MARK in name or name.startswith(EXCHANGES_MARK)
    ]


def open_testcase(config: pytest.Config, report: pytest.TestReport) -> Any | None:
    """The JUnit test case of the report, before pytest's junitxml closes it; None without --junitxml."""
    try:
        from _pytest.junitxml import xml_key
    except ImportError:
        return None
    xml = config.stash.get(xml_key, None)
    if xml is None:
        return None
    try:
        return xml.node_reporter(report)
    except Exception:  # a pytest whose junitxml changed: the logs stay in the terminal
        LOG.debug("the JUnit test case of %s could not be found", report.nodeid, exc_info=True)
        return None


def render(sections: list[tuple[str, str]]) -> str:
    return "".join(f"----- {name} -----\n{text.rstrip()}\n" for name, text in sections)


def add_system_out(testcase: Any, text: str) -> None:
    """Add `text` to the test case as a `<system-out>`, after what pytest wrote (once it closed it, too)."""
    try:
        from _pytest.junitxml import bin_xml_escape

        element = ET.Element("system-out")
        element.text = bin_xml_escape(text)
        if "nodes" in vars(testcase):  # still open: pytest adds it when it writes the test case
            testcase.append(element)
        else:  # closed: to_xml() returns the test case's element, as pytest will write it
            testcase.to_xml().append(element)
    except Exception:  # as above: never fail the run over a report
        LOG.debug("service logs could not be added to the JUnit XML", exc_info=True)
