"""`bpo2-bridge sync`, `status` and `cache rebuild` as ops use them."""

from __future__ import annotations

import json

from click.testing import CliRunner

from bpo2_bridge.bridge import Bridge
from bpo2_bridge.cli import main
from bpo2_bridge.demo.generate import build_demo_file


def test_sync_commands_report_rows_changes_and_status(make_settings, tmp_path) -> None:
    settings = make_settings()
    bridge = Bridge(settings)
    build_demo_file(
        settings.demo_source_path,
        size="tiny",
        seed=4,
        today=settings.today_date(),
        mapping=bridge.mapping,
        share_root=tmp_path / "share",
    )
    bridge.dispose()
    runner = CliRunner()
    env = {"BPO2_BRIDGE_DATA_DIR": settings.data_dir, "BPO2_BRIDGE_TODAY": settings.today}

    full = runner.invoke(main, ["sync", "--full"], env=env)
    assert full.exit_code == 0, full.output
    assert "rows/s" in full.stderr and "contract" in full.stdout  # a progress line per entity

    incremental = runner.invoke(main, ["sync", "--format", "json"], env=env)
    data = json.loads(incremental.stdout)
    assert data["kind"] == "incremental" and data["changes"]["contract"] == {
        "added": 0,
        "changed": 0,
        "removed": 0,
    }

    refresh = runner.invoke(main, ["sync", "--customer", "ACC00001", "--format", "json"], env=env)
    assert refresh.exit_code == 0, refresh.output
    assert json.loads(refresh.stdout)["summary"] == "No changes"

    unknown = runner.invoke(main, ["sync", "--customer", "NOPE"], env=env)
    assert unknown.exit_code == 1
    assert unknown.stderr.strip().splitlines() == ["Error: no customer with account no 'NOPE' in BPO2"]

    status = runner.invoke(main, ["status", "--format", "json"], env=env)
    report = json.loads(status.stdout)
    assert report["source"]["reachable"] is True
    assert report["cache"]["size_bytes"] > 0 and report["entities"]["contract"] > 0
    assert [s["kind"] for s in report["syncs"]][:3] == ["customer", "customer", "incremental"]
    assert set(report["next_runs"]) == {
        "incremental_sync",
        "full_sync",
        "contract_counts",
        "sql_checks",
        "schema_check",
        "prune_history",
    }

    table = runner.invoke(main, ["status"], env=env)
    assert table.exit_code == 0 and "source:     reachable" in table.stdout
