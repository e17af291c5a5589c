"""A case attachment's bytes, read from BPO2 itself (never cached): its bytes column, or its
file under the configured share, refusing any path that resolves outside the share."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Select, select
from sqlalchemy.exc import SQLAlchemyError

from .engines import SourceError, first_line, source_session

if TYPE_CHECKING:
    from ..bridge import Bridge
    from .reflection import SourceSchema


class AttachmentMissing(LookupError):
    """The source has no bytes for the file (deleted since the last sync, or a bad path)."""


@dataclass(frozen=True)
class AttachmentContent:
    data: bytes | None = None
    path: Path | None = None


def share_file(share_root: Path, relative: str) -> Path:
    """The file under the share root, refusing anything resolving outside it (symlinks too)."""
    if "\x00" in relative:
        raise AttachmentMissing("a file share path cannot contain a NUL character")
    root = share_root.resolve()
    cleaned = relative.replace("\\", "/").lstrip("/")
    target = (root / cleaned).resolve()
    if not target.is_relative_to(root) or target == root:
        raise AttachmentMissing(f"path {relative!r} is outside the file share")
    if not target.is_file():
        raise AttachmentMissing(f"file {relative!r} is not on the file share")
    return target


def attachment_query(schema: SourceSchema, file_id: int) -> Select[Any]:
    """The file's bytes column and share path, whichever the mapping has, from BPO2."""
    em = schema.mapping["case_attachment"]
    table = schema.table("case_attachment")
    wanted = [table.c[name] for name in ("content", "file_path") if em.has(name)]
    return select(*wanted).where(table.c.file_id == file_id)


def attachment_content(bridge: Bridge, file_id: int) -> AttachmentContent:
    """The file's bytes from the source's bytes column, else its path on the share.

    Raises SourceError when BPO2 is unreachable, AttachmentMissing when there is nothing.
    """
    with source_session(bridge.source) as conn:
        try:
            row = conn.execute(attachment_query(bridge.source_tables, file_id)).mappings().first()
        except SQLAlchemyError as exc:
            raise SourceError(f"BPO2 could not read the file: {first_line(exc)}") from exc
    if row is None:
        raise AttachmentMissing(f"file {file_id} is no longer in BPO2")
    data = row.get("content")
    if data is not None:
        return AttachmentContent(data=bytes(data))
    relative = row.get("file_path")
    if relative:
        return AttachmentContent(path=share_file(bridge.settings.share_path, relative))
    raise AttachmentMissing(f"file {file_id} has no content in BPO2")
