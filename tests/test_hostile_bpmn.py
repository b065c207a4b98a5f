"""BPMN deployment refuses XML entity attacks (issue #5 "hostile input"; `workflows.engine.deployment`).

A diagram with any DOCTYPE is refused before its entities are looked at, and the parser underneath never resolves
an entity, loads a DTD or opens a connection, so neither external entities (XXE) nor entity expansion work even if
the refusal were bypassed. Network attempts are detected with a listening loopback socket: a connection attempt
by the parser would sit in its accept queue.
"""

from __future__ import annotations

import contextlib
import resource
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from lxml import etree
from sqlalchemy import select
from sqlalchemy.orm import Session

from workflows.engine import deployment
from workflows.engine.deployment import DeploymentError, deploy_file, parse_file, parse_xml
from workflows.models import ProcessVersion
from workflows.routing import BPMN_DIR, load_routing

HAZARD = BPMN_DIR / "hazard_report.bpmn"
XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n'
SECRET = "SECRET-7f3a-不应出现"
PROCESS_NAME = 'name="安全隐患报告"'
DOCUMENTATION = "<bpmn:documentation>职工报告"


def hostile_diagram(
    tmp_path: Path, doctype: str, name_suffix: str = "", documentation: str = "", encoding: str = "utf-8"
) -> Path:
    """The real hazard diagram with `doctype` inserted and entity references in the process name/documentation."""
    source = HAZARD.read_text(encoding="utf-8")
    assert source.startswith(XML_DECLARATION) and PROCESS_NAME in source and DOCUMENTATION in source
    source = source.replace(XML_DECLARATION, XML_DECLARATION.replace("UTF-8", encoding.upper()) + doctype + "\n", 1)
    source = source.replace(PROCESS_NAME, f'name="安全隐患报告{name_suffix}"', 1)
    source = source.replace(DOCUMENTATION, f"<bpmn:documentation>{documentation}职工报告", 1)
    path = tmp_path / "hostile.bpmn"
    path.write_bytes(source.encode(encoding))
    return path


def refused(session: Session, path: Path) -> str:
    with pytest.raises(DeploymentError) as refusal:
        deploy_file(session, path, load_routing())
    message = str(refusal.value)
    assert path.name in message and "DOCTYPE" in message, message
    assert session.scalars(select(ProcessVersion)).all() == []
    return message


@pytest.fixture
def secret_file(tmp_path: Path) -> Path:
    path = tmp_path / "secret.txt"
    path.write_text(SECRET, encoding="utf-8")
    return path


@pytest.fixture
def listener() -> Iterator[tuple[socket.socket, str]]:
    """A loopback port nobody but a misbehaving parser would connect to, and its base URL."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.setblocking(False)
    yield server, f"http://127.0.0.1:{server.getsockname()[1]}"
    server.close()


def assert_never_connected(server: socket.socket) -> None:
    with pytest.raises(BlockingIOError):
        server.accept()


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16"])
def test_external_file_entity_is_refused_and_never_read(
    session: Session, tmp_path: Path, secret_file: Path, encoding: str
) -> None:
    path = hostile_diagram(
        tmp_path,
        f'<!DOCTYPE definitions [<!ENTITY x SYSTEM "{secret_file.as_uri()}"><!ENTITY p SYSTEM "file:///etc/passwd">]>',
        documentation="&x;&p;",
        encoding=encoding,
    )
    message = refused(session, path)
    assert SECRET not in message and "root:" not in message


def test_the_parser_resolves_no_entity_even_without_the_doctype_refusal(tmp_path: Path, secret_file: Path) -> None:
    """Second layer: the parser itself leaves `&x;` unresolved, so the file never reaches the tree or its text."""
    raw = hostile_diagram(
        tmp_path, f'<!DOCTYPE definitions [<!ENTITY x SYSTEM "{secret_file.as_uri()}">]>', documentation="&x;"
    ).read_bytes()
    root = etree.fromstring(raw, parser=deployment._safe_xml_parser())
    assert SECRET not in etree.tostring(root, encoding="unicode")
    assert SECRET not in "".join(root.itertext())


def test_external_dtd_and_parameter_entities_never_touch_the_network(
    session: Session, tmp_path: Path, listener: tuple[socket.socket, str]
) -> None:
    server, base = listener
    doctypes = [
        f'<!DOCTYPE definitions SYSTEM "{base}/evil.dtd">',
        f'<!DOCTYPE definitions PUBLIC "-//EVIL//DTD//EN" "{base}/public.dtd">',
        f'<!DOCTYPE definitions [<!ENTITY % remote SYSTEM "{base}/param.dtd"> %remote;]>',
        f'<!DOCTYPE definitions [<!ENTITY x SYSTEM "{base}/entity">]>',
    ]
    for doctype in doctypes:
        path = hostile_diagram(tmp_path, doctype, documentation="&x;" if "ENTITY x" in doctype else "")
        refused(session, path)
        # The lower layer alone does not fetch either (it may reject the undefined entity, never fetch it).
        with contextlib.suppress(etree.XMLSyntaxError):
            etree.fromstring(path.read_bytes(), parser=deployment._safe_xml_parser())
    assert_never_connected(server)


def test_a_stylesheet_instruction_is_inert(tmp_path: Path, listener: tuple[socket.socket, str]) -> None:
    server, base = listener
    raw = HAZARD.read_bytes().replace(
        XML_DECLARATION.encode(), XML_DECLARATION.encode() + f'<?xml-stylesheet href="{base}/x.xsl"?>\n'.encode(), 1
    )
    assert etree.QName(parse_xml(raw, "x.bpmn")).localname == "definitions"
    assert_never_connected(server)


BILLION_LAUGHS = (
    '<!DOCTYPE definitions [<!ENTITY l0 "哈哈哈哈哈哈哈哈哈哈">'
    + "".join(f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 10))
    + "]>"
)
QUADRATIC = f'<!DOCTYPE definitions [<!ENTITY big "{"A" * 50_000}">]>'


@pytest.mark.parametrize(
    ("doctype", "name_suffix", "documentation"),
    [
        (BILLION_LAUGHS, "&l9;", ""),
        (BILLION_LAUGHS, "", "&l9;"),
        (QUADRATIC, "", "&big;" * 50_000),  # 2.5 GB of text if expanded
    ],
    ids=["laughs-in-name", "laughs-in-documentation", "quadratic"],
)
def test_entity_expansion_is_refused_without_expanding(
    session: Session, tmp_path: Path, doctype: str, name_suffix: str, documentation: str
) -> None:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    path = hostile_diagram(tmp_path, doctype, name_suffix=name_suffix, documentation=documentation)
    refused(session, path)
    with pytest.raises(DeploymentError, match="DOCTYPE"):
        parse_xml(path.read_bytes(), path.name)
    grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mib < 100, f"peak memory grew by {grown_mib:.0f} MiB"


def test_xinclude_is_never_processed(tmp_path: Path, secret_file: Path) -> None:
    """An XInclude element is just an unknown extension element: stored as written, the file never read."""
    source = HAZARD.read_text(encoding="utf-8")
    include = (
        '<bpmn:extensionElements><xi:include xmlns:xi="http://www.w3.org/2001/XInclude" '
        f'href="{secret_file.as_uri()}" parse="text"/></bpmn:extensionElements>'
    )
    process_documentation_end = source.index("</bpmn:documentation>", source.index(PROCESS_NAME))
    at = process_documentation_end + len("</bpmn:documentation>")
    path = tmp_path / "xinclude.bpmn"
    path.write_text(source[:at] + include + source[at:], encoding="utf-8")
    for parsed in parse_file(path):
        assert "xi:include" in parsed.bpmn_xml
        assert SECRET not in parsed.bpmn_xml and SECRET not in parsed.name


def test_plain_diagram_still_parses() -> None:
    assert [parsed.key for parsed in parse_file(HAZARD)] == ["hazard_report"]
