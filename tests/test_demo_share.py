"""Rebuilding the demo cleans the share folder of the attachment files its previous build wrote,
and never touches anything else: other files in the share, other demos' files, anything outside."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, select

from bpo2_bridge.demo.generate import build_demo
from bpo2_bridge.demo.share import MANIFEST, DemoShare, demo_share
from bpo2_bridge.settings import package_config_dir
from bpo2_bridge.source.mapping import Mapping, load_mapping

TODAY = dt.date(2026, 11, 22)


@pytest.fixture(scope="module")
def mapping() -> Mapping:
    return load_mapping(package_config_dir() / "mapping.toml")


def referenced(url: Any, mapping: Mapping) -> set[str]:
    """The share paths the demo database's attachments name."""
    table = mapping.physical_metadata().tables[mapping["case_attachment"].qualified_table]
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return set(
                conn.execute(select(table.c.file_path).where(table.c.file_path.is_not(None))).scalars()
            )
    finally:
        engine.dispose()


def files_in(share: Path) -> set[str]:
    return {p.relative_to(share).as_posix() for p in share.rglob("*") if p.is_file() and p.name != MANIFEST}


def _demo_db(runner, *args: str):  # type: ignore[no-untyped-def]
    return runner.invoke("demo-db", "--size", "tiny", *args)


def test_demo_db_replace_removes_the_files_of_the_previous_build(runner, tmp_path, mapping) -> None:
    share, source = tmp_path / "data" / "share", tmp_path / "data" / "bpo2-demo.sqlite"
    assert _demo_db(runner, "--seed", "1").exit_code == 0
    first = referenced(f"sqlite:///{source}", mapping)
    assert first and files_in(share) == first
    # what somebody else keeps in the share, and next to it, is none of the demo's business
    (share / "cases" / "scanned by hand.pdf").write_bytes(b"%PDF keep")
    (share / "contracts").mkdir()
    (share / "contracts" / "signed.pdf").write_bytes(b"%PDF keep")
    (tmp_path / "data" / "beside-the-share.txt").write_text("keep")

    result = _demo_db(runner, "--seed", "3", "--replace")
    assert result.exit_code == 0, result.output
    second = referenced(f"sqlite:///{source}", mapping)
    stale = first - second
    assert stale, "a different seed names other files"
    assert f"removed {len(stale)} attachment files of the previous build" in result.output
    assert files_in(share) == second | {"cases/scanned by hand.pdf", "contracts/signed.pdf"}
    assert (tmp_path / "data" / "beside-the-share.txt").read_text() == "keep"
    # a case folder the old build alone used is gone with its files; the share stays
    old_folders = {(share / p).parent for p in stale} - {(share / p).parent for p in second}
    assert old_folders and not any(folder.exists() for folder in old_folders)
    assert share.is_dir()


def test_rebuilding_one_demo_keeps_the_files_another_demo_wrote(tmp_path, mapping, fresh_database) -> None:
    share = tmp_path / "share"
    mine, theirs = fresh_database("sqlite"), fresh_database("sqlite")
    build_demo(mine, size="tiny", seed=1, today=TODAY, mapping=mapping, share_root=share)
    build_demo(theirs, size="tiny", seed=1, today=TODAY, mapping=mapping, share_root=share)
    kept = referenced(theirs, mapping)
    assert kept == referenced(mine, mapping), "same seed, same files: both builds wrote them"

    summary = build_demo(
        mine, size="tiny", seed=4, today=TODAY, mapping=mapping, share_root=share, replace=True
    )
    mine_now = referenced(mine, mapping)
    assert files_in(share) == kept | mine_now  # nothing of the other demo's went
    assert summary.stale_files_removed == 0  # everything the old build wrote, the other one wrote too

    # the other demo rebuilt too: now the files of seed 1, which no build claims any more, go
    assert kept - mine_now, "seed 1 named files seed 4 does not"
    summary = build_demo(
        theirs, size="tiny", seed=4, today=TODAY, mapping=mapping, share_root=share, replace=True
    )
    assert summary.stale_files_removed == len(kept - mine_now)
    assert files_in(share) == mine_now == referenced(theirs, mapping)


def test_a_failed_build_leaves_its_files_listed_for_the_next_build(tmp_path) -> None:
    share = tmp_path / "share"
    with pytest.raises(RuntimeError), demo_share(share, "demo-db") as files:
        files.write("cases/CS1/1-Quote.pdf", b"%PDF")
        raise RuntimeError("killed half way")
    assert (share / "cases/CS1/1-Quote.pdf").exists()
    with demo_share(share, "demo-db") as files:
        files.write("cases/CS2/2-Notes.txt", b"notes")
    assert files_in(share) == {"cases/CS2/2-Notes.txt"}
    assert not (share / "cases" / "CS1").exists()


def test_listed_paths_outside_the_share_are_never_deleted(tmp_path) -> None:
    share, outside = tmp_path / "share", tmp_path / "outside"
    share.mkdir()
    outside.mkdir()
    victims = {name: outside / name for name in ("up.txt", "absolute.txt", "linked.txt", "via-dir.txt")}
    for path in victims.values():
        path.write_text("not the demo's")
    os.symlink(victims["linked.txt"], share / "link.txt")  # a link inside, to a file outside
    os.symlink(outside, share / "cases")  # a folder inside that leads outside
    hostile = [
        "../outside/up.txt",
        str(victims["absolute.txt"]),
        "link.txt",
        "cases/via-dir.txt",
        "cases/../../outside/up.txt",
        "C:\\outside\\up.txt",
        "",
    ]
    (share / MANIFEST).write_text(json.dumps({"demo-db": hostile}), encoding="utf-8")

    assert DemoShare(share, "demo-db").finish() == []
    assert all(path.read_text() == "not the demo's" for path in victims.values())
    assert (share / "link.txt").is_symlink() and (share / "cases").is_symlink()
    assert outside.is_dir()
    with pytest.raises(ValueError, match="not a path inside the share"):
        DemoShare(share, "demo-db").write("../outside/new.txt", b"x")
    assert not (outside / "new.txt").exists()


def test_an_unreadable_file_list_deletes_nothing(tmp_path) -> None:
    share = tmp_path / "share"
    (share / "cases").mkdir(parents=True)
    (share / "cases" / "a.txt").write_text("keep")
    (share / MANIFEST).write_text("{ not json", encoding="utf-8")
    with demo_share(share, "demo-db") as files:
        files.write("cases/b.txt", b"new")
    assert files_in(share) == {"cases/a.txt", "cases/b.txt"}
