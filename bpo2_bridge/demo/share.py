"""The demo's share folder: attachments stored as files, and a list of the files each build wrote.

The list (``MANIFEST`` in the share folder) names, per demo database, the files its build wrote.
A new build of the same database removes the files the build before it wrote and this one did
not write again, so a rebuild (``demo-db --replace``) leaves no stale attachments behind.

Nothing else is ever deleted: only files on that list, only when they lie inside the share
folder (symbolic links are not followed out of it, nor deleted), only regular files, and a
folder only when it is left empty. Files another demo database's build wrote stay.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath

MANIFEST = ".bpo2-demo-files.json"  # {database: [path relative to the share, "/"-separated]}


class DemoShare:
    """The files one build writes under ``root``, for the database named ``key``."""

    def __init__(self, root: Path, key: str) -> None:
        self.root = Path(root)
        self.key = key
        self.written: set[str] = set()
        self.removed: list[str] = []  # what finish() removed
        self.previous = set(self._manifest().get(key, ()))

    def write(self, relative: str, data: bytes) -> None:
        path = self._inside(relative)
        if path is None:
            raise ValueError(f"not a path inside the share folder: {relative!r}")
        path.parent.mkdir(parents=True, exist_ok=True)
        self.written.add(relative)  # listed first: a half-written file is cleaned next time too
        path.write_bytes(data)

    def finish(self) -> list[str]:
        """The build succeeded: remove the previous build's files it did not write again.
        Returns those removed."""
        manifest = self._manifest()
        others = {p for key, paths in manifest.items() if key != self.key for p in paths}
        self.removed = [p for p in sorted(self.previous - self.written - others) if self._remove(p)]
        manifest[self.key] = sorted(self.written)
        self._save(manifest)
        return self.removed

    def abandon(self) -> None:
        """The build failed: keep listing every file, so the next build cleans up after it."""
        if not self.written:
            return
        manifest = self._manifest()
        manifest[self.key] = sorted(self.previous | self.written)
        try:
            self._save(manifest)
        except OSError:
            pass  # the build's own error says what is wrong with the share folder

    # -- internals ---------------------------------------------------------------------------

    def _inside(self, relative: str) -> Path | None:
        """The file's path when `relative` names one inside the share folder, else None."""
        parts = PurePosixPath(relative).parts
        if not parts or relative.startswith("/") or any(p in ("", ".", "..") for p in parts):
            return None
        if any("\\" in p or ":" in p for p in parts):  # a drive or a Windows separator
            return None
        path = self.root.joinpath(*parts)
        if not path.resolve().is_relative_to(self.root.resolve()):
            return None  # a symbolic link somewhere on the way leads out of the share
        return path

    def _remove(self, relative: str) -> bool:
        path = self._inside(relative)
        if path is None or path.is_symlink() or not path.is_file():
            return False
        path.unlink()
        root = self.root.resolve()
        for folder in path.parents:  # the folders this file was the last one in
            if folder.resolve() == root or not folder.resolve().is_relative_to(root):
                break
            try:
                folder.rmdir()  # only when empty
            except OSError:
                break
        return True

    def _manifest(self) -> dict[str, list[str]]:
        try:
            data = json.loads((self.root / MANIFEST).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}  # none yet, or unreadable: then nothing is deleted
        if not isinstance(data, dict):
            return {}
        return {
            str(key): [p for p in paths if isinstance(p, str)]
            for key, paths in data.items()
            if isinstance(paths, list)
        }

    def _save(self, manifest: dict[str, list[str]]) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        target = self.root / MANIFEST
        partial = target.with_name(target.name + ".part")
        partial.write_text(json.dumps(manifest, indent=1, sort_keys=True), encoding="utf-8")
        os.replace(partial, target)  # never a half-written list


@contextmanager
def demo_share(root: Path, key: str) -> Iterator[DemoShare]:
    """A DemoShare that is finished when the block succeeds and abandoned when it fails."""
    share = DemoShare(root, key)
    try:
        yield share
    except BaseException:
        share.abandon()
        raise
    share.finish()
