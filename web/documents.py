"""ISAPI documents: one tree shape, written as Hikvision XML or as JSON, and read back from either.

A document is a root name and a dict. Values are text, numbers, booleans,
nested dicts, or lists (a list is written as the key's element repeated).
Keys starting with ``@`` are XML attributes (capabilities' ``min``/``max``);
JSON drops the ``@``. Every XML document is in the ISAPI namespace
``http://www.hikvision.com/ver20/XMLSchema`` with ``version="2.0"``.

Reading (`parse_body`) is bounded and strict: bodies over `MAX_BODY`
bytes, documents with a DTD (entity expansion), malformed XML or JSON, a
foreign namespace or another root element are refused with `BadRequest`,
which the server turns into a `ResponseStatus`.
"""
from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ET
from typing import Any

NAMESPACE = "http://www.hikvision.com/ver20/XMLSchema"
VERSION = "2.0"
MAX_BODY = 1024 * 1024
MAX_DEPTH = 16

# ResponseStatus codes, as ISAPI devices use them.
OK, DEVICE_BUSY, DEVICE_ERROR, INVALID_OPERATION, INVALID_XML_FORMAT, INVALID_XML_CONTENT = 1, 2, 3, 4, 5, 6
STATUS_STRINGS = {OK: "OK", DEVICE_BUSY: "Device Busy", DEVICE_ERROR: "Device Error",
                  INVALID_OPERATION: "Invalid Operation", INVALID_XML_FORMAT: "Invalid XML Format",
                  INVALID_XML_CONTENT: "Invalid XML Content"}


class BadRequest(Exception):
    """A request the API refuses: HTTP status, ISAPI status code, subStatusCode, one-line reason."""

    def __init__(self, reason: str, *, http: int = 400, code: int = INVALID_XML_CONTENT,
                 sub: str = "badXmlContent"):
        super().__init__(reason)
        self.http, self.code, self.sub = http, code, sub


def response_status(url: str, code: int, sub: str, reason: str = "") -> tuple[str, dict[str, Any]]:
    doc = {"requestURL": url, "statusCode": code, "statusString": STATUS_STRINGS.get(code, "Error"),
           "subStatusCode": sub}
    if reason:
        doc["errorMsg"] = reason
    return "ResponseStatus", doc


# --------------------------------------------------------------------------- writing


def to_xml(root: str, doc: dict[str, Any]) -> bytes:
    element = ET.Element(root, {"version": VERSION, "xmlns": NAMESPACE})
    _fill(element, doc)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(element, encoding="utf-8")


def _fill(element: ET.Element, doc: dict[str, Any]) -> None:
    for key, value in doc.items():
        if key.startswith("@"):
            element.set(key[1:], _text(value))
        elif isinstance(value, list):
            for item in value:
                _fill_child(element, key, item)
        else:
            _fill_child(element, key, value)


def _fill_child(parent: ET.Element, key: str, value: Any) -> None:
    child = ET.SubElement(parent, key)
    if isinstance(value, dict):
        _fill(child, value)
    elif value is not None:
        child.text = _text(value)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.3f}".rstrip("0").rstrip(".") if math.isfinite(value) else "0"
    return str(value)


def to_json(root: str, doc: dict[str, Any]) -> bytes:
    """Hikvision's JSON form: {root: doc}, attributes without their '@'; ResponseStatus flat."""
    body = _json_value(doc)
    return json.dumps(body if root == "ResponseStatus" else {root: body}, ensure_ascii=False).encode()


def _json_value(value: Any) -> Any:
    if isinstance(value, dict):
        return {k.lstrip("@"): _json_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_value(v) for v in value]
    return value


# --------------------------------------------------------------------------- reading


def parse_body(body: bytes, root: str, *, as_json: bool) -> dict[str, Any]:
    """The document under `root` from an XML or JSON request body, as nested dicts of
    text (XML) or JSON values; lists where an element repeats."""
    if len(body) > MAX_BODY:
        raise BadRequest(f"the request body is over {MAX_BODY // 1024} KB", http=413, code=INVALID_OPERATION,
                         sub="badParameters")
    if not body.strip():
        raise BadRequest(f"the request has no body: send a {root} document", code=INVALID_XML_FORMAT,
                         sub="badXmlFormat")
    return _parse_json(body, root) if as_json else _parse_xml(body, root)


def _parse_json(body: bytes, root: str) -> dict[str, Any]:
    try:
        doc = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise BadRequest(f"malformed JSON: {str(e).splitlines()[0][:120]}", code=INVALID_XML_FORMAT,
                         sub="badJsonFormat") from None
    if not isinstance(doc, dict) or set(doc) != {root} or not isinstance(doc[root], dict):
        raise BadRequest(f"expected a JSON object {{\"{root}\": {{...}}}}", sub="badJsonContent")
    _check_depth(doc[root], 0)
    return doc[root]


def _check_depth(value: Any, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise BadRequest(f"the document is nested deeper than {MAX_DEPTH} levels", sub="badParameters")
    children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
    for child in children:
        _check_depth(child, depth + 1)


def _parse_xml(body: bytes, root: str) -> dict[str, Any]:
    if b"<!DOCTYPE" in body.upper() or b"<!ENTITY" in body.upper():
        raise BadRequest("documents with a DTD or entities are not accepted", code=INVALID_XML_FORMAT,
                         sub="badXmlFormat")
    try:
        element = ET.fromstring(body)
    except ET.ParseError as e:
        raise BadRequest(f"malformed XML: {e}", code=INVALID_XML_FORMAT, sub="badXmlFormat") from None
    namespace, _, name = element.tag[1:].partition("}") if element.tag.startswith("{") else ("", "", element.tag)
    if namespace not in ("", NAMESPACE):
        raise BadRequest(f"wrong namespace {namespace!r}: ISAPI documents are in {NAMESPACE}")
    if name != root:
        raise BadRequest(f"expected a {root} document, got {name}")
    return _element_dict(element, 0)


def _element_dict(element: ET.Element, depth: int) -> dict[str, Any]:
    if depth > MAX_DEPTH:
        raise BadRequest(f"the document is nested deeper than {MAX_DEPTH} levels", sub="badParameters")
    out: dict[str, Any] = {}
    for child in element:
        namespace, _, name = child.tag[1:].partition("}") if child.tag.startswith("{") else ("", "", child.tag)
        if namespace not in ("", NAMESPACE):
            raise BadRequest(f"wrong namespace {namespace!r} on <{name}>")
        value: Any = _element_dict(child, depth + 1) if len(child) else (child.text or "").strip()
        if name in out:
            if not isinstance(out[name], list):
                out[name] = [out[name]]
            out[name].append(value)
        else:
            out[name] = value
    return out


# --------------------------------------------------------------------------- fields


def as_list(value: Any) -> list[Any]:
    """A repeated element: XML gives one item as itself, several as a list; JSON a list."""
    if value is None or value == "":
        return []
    return value if isinstance(value, list) else [value]


def field(doc: dict[str, Any], key: str, where: str) -> Any:
    if not isinstance(doc, dict) or key not in doc:
        raise BadRequest(f"{where}: <{key}> is missing")
    return doc[key]


def integer(doc: dict[str, Any], key: str, where: str, lo: int, hi: int, default: int | None = None) -> int:
    if default is not None and (not isinstance(doc, dict) or key not in doc):
        return default
    value = field(doc, key, where)
    if isinstance(value, bool) or not (isinstance(value, int) or (isinstance(value, str)
                                                                  and value.strip().lstrip("-").isdigit()
                                                                  and len(value.strip()) <= 9)):
        raise BadRequest(f"{where}.{key}: {str(value)[:40]!r} is not a whole number ({lo}..{hi})",
                         sub="badParameters")
    number = int(value)
    if not lo <= number <= hi:
        raise BadRequest(f"{where}.{key}: {number} is out of range {lo}..{hi}", sub="badParameters")
    return number


def boolean(doc: dict[str, Any], key: str, where: str, default: bool | None = None) -> bool:
    if default is not None and (not isinstance(doc, dict) or key not in doc):
        return default
    value = field(doc, key, where)
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise BadRequest(f"{where}.{key}: {str(value)[:40]!r} must be true or false", sub="badParameters")


def text(doc: dict[str, Any], key: str, where: str, default: str | None = None) -> str:
    if default is not None and (not isinstance(doc, dict) or key not in doc):
        return default
    value = field(doc, key, where)
    if not isinstance(value, str):
        raise BadRequest(f"{where}.{key}: must be text", sub="badParameters")
    return value.strip()
