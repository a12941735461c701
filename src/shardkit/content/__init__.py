"""World content (zone definitions, ...) and its version: a hash every WorldServer and the character server must share."""

from __future__ import annotations

import hashlib
from pathlib import Path

import msgspec

DEFAULT_CONTENT = Path(__file__).parent / "default"


class ContentError(Exception):
    """Content files are missing or malformed; the message names the file."""


class ZoneDef(msgspec.Struct, forbid_unknown_fields=True):
    width: float = 1000.0
    height: float = 1000.0
    spawn: tuple[float, float] = (100.0, 100.0)


class ZonesFile(msgspec.Struct, forbid_unknown_fields=True):
    zones: dict[str, ZoneDef] = msgspec.field(default_factory=dict)


class Content(msgspec.Struct, frozen=True):
    directory: Path
    version: str
    zones: dict[str, ZoneDef]

    def zone(self, name: str) -> ZoneDef:
        try:
            return self.zones[name]
        except KeyError:
            raise ContentError(f"zone '{name}' is not in {self.directory / 'zones.toml'}") from None


def content_dir(configured: str, root: Path) -> Path:
    """The content folder from config ("" = the content shipped with shardkit)."""
    if not configured:
        return DEFAULT_CONTENT
    path = Path(configured)
    return path if path.is_absolute() else root / path


def content_version(directory: Path) -> str:
    """sha256 over every file's relative path and bytes, in a stable order (first 16 hex digits)."""
    digest = hashlib.sha256()
    files = sorted(p for p in directory.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    if not files:
        raise ContentError(f"no content files in {directory}")
    for path in files:
        digest.update(path.relative_to(directory).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:16]


def load_content(directory: Path) -> Content:
    zones_path = directory / "zones.toml"
    try:
        zones = msgspec.toml.decode(zones_path.read_bytes(), type=ZonesFile)
    except FileNotFoundError:
        raise ContentError(f"{zones_path} is missing") from None
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise ContentError(f"{zones_path}: {exc}") from None
    return Content(directory, content_version(directory), zones.zones)
