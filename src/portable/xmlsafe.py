"""Refuse XML that could reach outside the document before any parser sees it.

PMML is plain XML with no need for a DTD. A document type declaration or entity opens
the door to external entities (XXE: reading local files, reaching URLs) and to entity
expansion bombs; Java XML parsers resolve some of these by default. ``portable`` refuses
any PMML that declares them, before JPMML (or anything else) parses it, and parses
what it reads itself with the standard library's non-resolving parser.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from .errors import ArtifactError

_DECLARATION = re.compile(rb"<!\s*(DOCTYPE|ENTITY|ELEMENT|ATTLIST)", re.IGNORECASE)


def check_xml(data: bytes, *, what: str = "document") -> None:
    """Raise ArtifactError if ``data`` declares a DTD or entities (or is not UTF-8 XML)."""
    head = data.lstrip()
    if head.startswith(b"\xef\xbb\xbf"):
        head = head[3:]
    if not head.startswith(b"<"):
        raise ArtifactError(f"The {what} is not XML.")
    if _DECLARATION.search(data):
        raise ArtifactError(
            f"The {what} declares a DTD or entities (<!DOCTYPE/<!ENTITY>); portable refuses "
            f"such XML because entities can read local files or expand without bound.")


def parse_xml(data: bytes, *, what: str = "document") -> ET.Element:
    """Parse XML after :func:`check_xml`; errors become ArtifactError."""
    check_xml(data, what=what)
    try:
        return ET.fromstring(data)
    except ET.ParseError as e:
        raise ArtifactError(f"The {what} is not well-formed XML: {e}.") from None
