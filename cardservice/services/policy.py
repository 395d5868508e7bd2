"""The city's card policy (config/policy/*.toml): documents and points, validity, retention."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask_babel import lazy_gettext as _l

from ..config import CONFIG_DIR, ConfigError
from .errors import InsufficientDocumentsError, ValidationError

DOCUMENT_KINDS = ("identity", "residence")


@dataclass(frozen=True, kw_only=True)
class DocumentCategory:
    id: str
    kind: str
    points: int
    names: dict[str, str]

    def name_in(self, language: str | None) -> str:
        if language and language in self.names:
            return self.names[language]
        return self.names.get("en") or next(iter(self.names.values()), self.id)


@dataclass(frozen=True, kw_only=True)
class PointsResult:
    by_kind: dict[str, int]
    minimums: dict[str, int]

    @property
    def sufficient(self) -> bool:
        return all(self.by_kind.get(k, 0) >= m for k, m in self.minimums.items())


@dataclass(frozen=True, kw_only=True)
class Policy:
    name: str
    birth_date_required: bool
    minimum_age: int
    address_max_chars: int
    languages: tuple[str, ...]
    photo_max_bytes: int
    photo_max_pixels: int
    photo_max_decode_bytes: int
    photo_max_width: int
    photo_max_height: int
    photo_quality: int
    minimums: dict[str, int]
    documents: tuple[DocumentCategory, ...]
    validity_years: int
    renewal_window_days: int
    birth_date_on_card: bool
    metadata_ttl: int
    status_list_ttl: int
    status_list_validity_days: int
    status_list_size: int
    retention_months: int

    def document(self, category_id: str) -> DocumentCategory | None:
        return next((d for d in self.documents if d.id == category_id), None)

    def points(self, category_ids: list[str]) -> PointsResult:
        """Points per kind for the categories seen; each category counts once.

        Raises ValidationError for an unknown category id.
        """
        by_kind = dict.fromkeys(self.minimums, 0)
        for category_id in dict.fromkeys(category_ids):
            category = self.document(category_id)
            if category is None:
                raise ValidationError({"documents": _l("Unknown document category.")})
            by_kind[category.kind] = by_kind.get(category.kind, 0) + category.points
        return PointsResult(by_kind=by_kind, minimums=dict(self.minimums))

    def check_documents(self, category_ids: list[str]) -> PointsResult:
        result = self.points(category_ids)
        if not result.sufficient:
            raise InsufficientDocumentsError(points=result.by_kind, minimums=result.minimums)
        return result

    def as_public_dict(self, language: str | None = None) -> dict[str, Any]:
        return {
            "documents": [
                {"id": d.id, "kind": d.kind, "points": d.points, "name": d.name_in(language)}
                for d in self.documents
            ],
            "minimums": dict(self.minimums),
            "birth_date": "required" if self.birth_date_required else "optional",
            "minimum_age": self.minimum_age,
            "languages": list(self.languages),
            "validity_years": self.validity_years,
        }


def _require(table: dict[str, Any], key: str, kind: type, where: str) -> Any:
    value = table.get(key)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ConfigError(f"policy {where}.{key} must be a {kind.__name__}")
    return value


def parse_policy(data: dict[str, Any], name: str) -> Policy:
    enrol = data.get("enrolment", {})
    photo = data.get("photo", {})
    card = data.get("card", {})
    pub = data.get("publication", {})
    retention = data.get("retention", {})
    points = data.get("points", {})
    birth = enrol.get("birth_date", "required")
    if birth not in ("required", "optional"):
        raise ConfigError("policy enrolment.birth_date must be 'required' or 'optional'")
    minimums: dict[str, int] = {}
    for kind in DOCUMENT_KINDS:
        minimums[kind] = _require(points, kind, int, "points")
        if minimums[kind] < 0:
            raise ConfigError(f"policy points.{kind} must not be negative")
    documents = []
    seen: set[str] = set()
    for entry in data.get("documents", []):
        doc_id = _require(entry, "id", str, "documents")
        kind = _require(entry, "kind", str, "documents")
        if kind not in DOCUMENT_KINDS:
            raise ConfigError(f"policy document {doc_id}: kind must be identity or residence")
        if doc_id in seen:
            raise ConfigError(f"policy document {doc_id} is listed twice")
        seen.add(doc_id)
        names = entry.get("names", {})
        if not isinstance(names, dict) or not names:
            names = {"en": doc_id}
        documents.append(
            DocumentCategory(
                id=doc_id,
                kind=kind,
                points=_require(entry, "points", int, "documents"),
                names={str(k): str(v) for k, v in names.items()},
            )
        )
    if not documents:
        raise ConfigError("the policy lists no document categories")
    size = pub.get("status_list_size", 131072)
    if not isinstance(size, int) or size < 131072 or size % 4:
        raise ConfigError("policy publication.status_list_size must be a multiple of 4, >= 131072")
    languages = tuple(enrol.get("languages", ["en"]))
    if not languages:
        raise ConfigError("policy enrolment.languages must not be empty")
    return Policy(
        name=name,
        birth_date_required=birth == "required",
        minimum_age=int(enrol.get("minimum_age", 0)),
        address_max_chars=int(enrol.get("address_max_chars", 200)),
        languages=languages,
        photo_max_bytes=int(photo.get("max_bytes", 5 * 1024 * 1024)),
        photo_max_pixels=int(photo.get("max_pixels", 40_000_000)),
        photo_max_decode_bytes=int(photo.get("max_decode_mb", 24)) * 2**20,
        photo_max_width=int(photo.get("output_max_width", 450)),
        photo_max_height=int(photo.get("output_max_height", 600)),
        photo_quality=int(photo.get("output_quality", 85)),
        minimums=minimums,
        documents=tuple(documents),
        validity_years=int(card.get("validity_years", 5)),
        renewal_window_days=int(card.get("renewal_window_days", 90)),
        birth_date_on_card=bool(card.get("birth_date_on_card", True)),
        metadata_ttl=int(pub.get("metadata_ttl", 86400)),
        status_list_ttl=int(pub.get("status_list_ttl", 3600)),
        status_list_validity_days=int(pub.get("status_list_validity_days", 7)),
        status_list_size=size,
        retention_months=int(retention.get("months_after_expiry", 12)),
    )


def load_policy(name_or_path: str) -> Policy:
    """Load `config/policy/<name>.toml`, or the TOML file at the given path."""
    path = Path(name_or_path)
    if path.suffix != ".toml":
        path = CONFIG_DIR / "policy" / f"{name_or_path}.toml"
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except OSError as exc:
        raise ConfigError(f"cannot read the policy file {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"the policy file {path} is not valid TOML: {exc}") from None
    return parse_policy(data, path.stem)
