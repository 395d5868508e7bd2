"""A small IPP/2.0 client: enough to send a card's PDF to a card printer and follow the job.

Internet Printing Protocol, RFC 8010 (encoding) and RFC 8011 (model), as spoken by CUPS queues
and by IPP Everywhere printers (Debian's ``ippeveprinter`` is the test double). Why not a library:
PyPI's IPP clients (pyipp and its fork aioipp) are asyncio-only over aiohttp (this app is
synchronous), encode only the attributes of a fixed table and silently drop the others (no
``print-color-mode``, ``media`` sent with the wrong syntax), and turn TLS verification off by
default. A request here is a few hundred bytes built from RFC 8010 section 3; responses are
parsed fully, collections included.

Printer URIs: ``ipp://host[:631]/path`` (plain HTTP, for a printer on the counter's own network
segment or a local CUPS) and ``ipps://host[:443]/path`` (HTTPS, certificate verified against the
system's store or the CA file given).
"""

from __future__ import annotations

import http.client
import secrets
import ssl
import struct
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

# Operations (RFC 8011 section 5.4.15).
PRINT_JOB = 0x0002
GET_JOB_ATTRIBUTES = 0x0009
GET_PRINTER_ATTRIBUTES = 0x000B

# Delimiter tags (RFC 8010 section 3.5.1).
_OPERATION_GROUP = 0x01
_JOB_GROUP = 0x02
_END = 0x03
# Value tags (RFC 8010 section 3.5.2).
_INTEGER = 0x21
_BOOLEAN = 0x22
_ENUM = 0x23
_TEXT_WITH_LANGUAGE = 0x35
_NAME_WITH_LANGUAGE = 0x36
_BEGIN_COLLECTION = 0x34
_END_COLLECTION = 0x37
_MEMBER_NAME = 0x4A
_NAME = 0x42
_KEYWORD = 0x44
_URI = 0x45
_CHARSET = 0x47
_LANGUAGE = 0x48
_MIME_TYPE = 0x49
_INTEGER_TAGS = frozenset({_INTEGER, _ENUM})

# Job states (RFC 8011 section 5.3.7).
JOB_STATES = {
    3: "pending",
    4: "pending-held",
    5: "processing",
    6: "processing-stopped",
    7: "canceled",
    8: "aborted",
    9: "completed",
}
FINAL_JOB_STATES = frozenset({"canceled", "aborted", "completed"})


class IppError(Exception):
    """The printer cannot be reached, or refused or failed the request. The message names the
    cause for an operator (status code, HTTP error, network error), never the document."""


@dataclass(frozen=True)
class IppResponse:
    status_code: int
    request_id: int
    # One dict per attribute group, in order: (group tag, {name: [values]}).
    groups: list[tuple[int, dict[str, list[Any]]]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        # successful-ok and its variants (RFC 8011 section 13.1.2: 0x0000 to 0x00FF).
        return self.status_code < 0x0100

    def first(self, name: str, group: int | None = None) -> Any:
        """The first value of attribute ``name`` (in ``group`` if given), or None."""
        for tag, attributes in self.groups:
            if (group is None or tag == group) and name in attributes:
                return attributes[name][0]
        return None

    def values(self, name: str) -> list[Any]:
        for _tag, attributes in self.groups:
            if name in attributes:
                return attributes[name]
        return []


def _attribute(tag: int, name: str, values: Any) -> bytes:
    """One attribute with one or more values (RFC 8010 section 3.1.4: additional values repeat
    the tag with an empty name)."""
    items = values if isinstance(values, list | tuple) else [values]
    out = bytearray()
    for index, value in enumerate(items):
        label = name.encode("ascii") if index == 0 else b""
        if tag in _INTEGER_TAGS:
            encoded = struct.pack(">i", value)
        elif tag == _BOOLEAN:
            encoded = b"\x01" if value else b"\x00"
        else:
            encoded = str(value).encode("utf-8")
        if len(encoded) > 0x7FFF:
            raise ValueError(f"IPP value of {name} is too long")
        out += struct.pack(">BH", tag, len(label)) + label + struct.pack(">H", len(encoded))
        out += encoded
    return bytes(out)


def encode_request(
    operation: int,
    request_id: int,
    operation_attributes: list[tuple[int, str, Any]],
    job_attributes: list[tuple[int, str, Any]] = (),  # type: ignore[assignment]
    document: bytes = b"",
) -> bytes:
    """An IPP/2.0 request: header, the operation group (charset and natural language first, as
    RFC 8011 section 4.1.4 requires), the job template group when given, end tag, document."""
    out = bytearray(struct.pack(">BBHI", 2, 0, operation, request_id))
    out.append(_OPERATION_GROUP)
    out += _attribute(_CHARSET, "attributes-charset", "utf-8")
    out += _attribute(_LANGUAGE, "attributes-natural-language", "en")
    for tag, name, value in operation_attributes:
        out += _attribute(tag, name, value)
    if job_attributes:
        out.append(_JOB_GROUP)
        for tag, name, value in job_attributes:
            out += _attribute(tag, name, value)
    out.append(_END)
    return bytes(out) + document


def _decode_value(tag: int, raw: bytes) -> Any:
    if tag in _INTEGER_TAGS and len(raw) == 4:
        return struct.unpack(">i", raw)[0]
    if tag == _BOOLEAN and len(raw) == 1:
        return raw != b"\x00"
    if tag in (_TEXT_WITH_LANGUAGE, _NAME_WITH_LANGUAGE) and len(raw) >= 4:
        # language length + language, text length + text: keep the text.
        (lang_len,) = struct.unpack(">H", raw[:2])
        return raw[4 + lang_len :].decode("utf-8", "replace")
    if 0x40 <= tag <= 0x5F:
        return raw.decode("utf-8", "replace")
    return raw  # dateTime, resolution, rangeOfInteger, octetString: kept as bytes


def decode_response(data: bytes) -> IppResponse:
    """Parse an IPP response; collections become dicts. Raises IppError on malformed data."""
    try:
        _major, _minor, status, request_id = struct.unpack(">BBHI", data[:8])
        pos = 8
        groups: list[tuple[int, dict[str, list[Any]]]] = []
        # A stack of collections being read: (attributes dict, current member name).
        stack: list[tuple[dict[str, list[Any]], str]] = []
        current: dict[str, list[Any]] | None = None
        last_name = ""
        while True:
            tag = data[pos]
            pos += 1
            if tag == _END:
                break
            if tag < 0x10:  # a new attribute group
                current = {}
                groups.append((tag, current))
                continue
            if current is None:
                raise IppError("malformed IPP response: a value outside any group")
            (name_len,) = struct.unpack(">H", data[pos : pos + 2])
            name = data[pos + 2 : pos + 2 + name_len].decode("utf-8")
            pos += 2 + name_len
            (value_len,) = struct.unpack(">H", data[pos : pos + 2])
            raw = data[pos + 2 : pos + 2 + value_len]
            pos += 2 + value_len
            if len(raw) != value_len:
                raise IppError("malformed IPP response: truncated value")
            target = stack[-1][0] if stack else current
            if tag == _MEMBER_NAME:  # inside a collection: the next value's name
                stack[-1] = (stack[-1][0], raw.decode("utf-8"))
                continue
            if stack and not name:
                name = stack[-1][1]
            elif name:
                last_name = name
            else:
                name = last_name  # an additional value of the previous attribute
            if tag == _BEGIN_COLLECTION:
                member: dict[str, list[Any]] = {}
                target.setdefault(name, []).append(member)
                stack.append((member, ""))
                continue
            if tag == _END_COLLECTION:
                if not stack:
                    raise IppError("malformed IPP response: unbalanced collection")
                stack.pop()
                continue
            target.setdefault(name, []).append(_decode_value(tag, raw))
    except (struct.error, IndexError, UnicodeDecodeError):
        raise IppError("malformed IPP response") from None
    return IppResponse(status_code=status, request_id=request_id, groups=groups)


class IppClient:
    """Talks to one printer URI. Each call is one HTTP POST on a fresh connection (a card is
    printed every few minutes: nothing to gain from keeping one open)."""

    def __init__(self, uri: str, *, timeout: float = 10.0, ca_file: str | None = None) -> None:
        parts = urlsplit(uri)
        if parts.scheme not in ("ipp", "ipps") or not parts.hostname:
            raise ValueError("a printer URI is ipp://host[:port]/path or ipps://host[:port]/path")
        self.uri = uri
        self._secure = parts.scheme == "ipps"
        self._host = parts.hostname
        self._port = parts.port or (443 if self._secure else 631)
        self._path = parts.path or "/"
        self._timeout = timeout
        self._ca_file = ca_file

    def _connection(self) -> http.client.HTTPConnection:
        if self._secure:
            context = ssl.create_default_context(cafile=self._ca_file)
            return http.client.HTTPSConnection(
                self._host, self._port, timeout=self._timeout, context=context
            )
        return http.client.HTTPConnection(self._host, self._port, timeout=self._timeout)

    def request(
        self,
        operation: int,
        operation_attributes: list[tuple[int, str, Any]],
        job_attributes: list[tuple[int, str, Any]] = (),  # type: ignore[assignment]
        document: bytes = b"",
    ) -> IppResponse:
        request_id = secrets.randbelow(0x7FFFFFFF) + 1
        attributes = [(_URI, "printer-uri", self.uri), *operation_attributes]
        body = encode_request(operation, request_id, attributes, job_attributes, document)
        connection = self._connection()
        try:
            connection.request(
                "POST", self._path, body=body, headers={"Content-Type": "application/ipp"}
            )
            reply = connection.getresponse()
            data = reply.read()
        except (OSError, http.client.HTTPException) as exc:
            raise IppError(
                f"the printer at {self._host}:{self._port} cannot be reached ({exc})"
            ) from None
        finally:
            connection.close()
        if reply.status != 200:
            raise IppError(f"the printer answered HTTP {reply.status} {reply.reason}")
        response = decode_response(data)
        if response.request_id != request_id:
            raise IppError("the printer answered another request")
        if not response.ok:
            message = response.first("status-message") or ""
            raise IppError(
                f"the printer refused the request (0x{response.status_code:04x}) {message}"
            )
        return response

    def printer_attributes(self, *names: str) -> IppResponse:
        requested = list(names) or ["all"]
        return self.request(GET_PRINTER_ATTRIBUTES, [(_KEYWORD, "requested-attributes", requested)])

    def print_job(
        self,
        document: bytes,
        *,
        job_name: str,
        user_name: str,
        document_format: str = "application/pdf",
        sides: str | None = None,
        color_mode: str | None = None,
        media: str | None = None,
    ) -> int:
        """Send one document; returns the printer's job id."""
        operation = [
            (_NAME, "requesting-user-name", user_name),
            (_NAME, "job-name", job_name),
            (_MIME_TYPE, "document-format", document_format),
        ]
        job: list[tuple[int, str, Any]] = []
        if sides:
            job.append((_KEYWORD, "sides", sides))
        if color_mode:
            job.append((_KEYWORD, "print-color-mode", color_mode))
        if media:
            job.append((_KEYWORD, "media", media))
        response = self.request(PRINT_JOB, operation, job, document)
        job_id = response.first("job-id")
        if not isinstance(job_id, int):
            raise IppError("the printer accepted the job without a job id")
        return job_id

    def job_state(self, job_id: int) -> tuple[str, list[str]]:
        """The job's state ("pending", "processing", "completed"...) and its state reasons."""
        response = self.request(
            GET_JOB_ATTRIBUTES,
            [
                (_INTEGER, "job-id", job_id),
                (_KEYWORD, "requested-attributes", ["job-state", "job-state-reasons"]),
            ],
        )
        state = response.first("job-state")
        return JOB_STATES.get(state, f"unknown-{state}"), [
            str(v) for v in response.values("job-state-reasons")
        ]
