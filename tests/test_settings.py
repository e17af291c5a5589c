"""Settings: declared once, documented, loaded in order, bad values named."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from bpo2_bridge.cli import main
from bpo2_bridge.settings import BY_NAME, SETTINGS, SettingsError, load_settings, settings_toml

ROOT = Path(__file__).resolve().parent.parent


def test_every_setting_is_documented_in_readme_and_config_file():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    config = (ROOT / "config" / "bpo2-bridge.toml").read_text(encoding="utf-8")
    missing = [s.name for s in SETTINGS if f"`{s.name}`" not in readme]
    assert not missing, f"settings missing from README.md: {missing}"
    assert config == settings_toml(), "config/bpo2-bridge.toml is stale: regenerate it (make config)"
    assert all(s.help.strip() for s in SETTINGS)


def test_precedence_defaults_file_environment_overrides(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text('port = 9001\nexpiring_window_months = 3\ntimezone = "UTC"\n')
    s = load_settings(cfg, environ={})
    assert (s.port, s.expiring_window_months, s.timezone) == (9001, 3, "UTC")
    assert s.threads == BY_NAME["threads"].default
    s = load_settings(
        cfg, environ={"BPO2_BRIDGE_PORT": "9002", "BPO2_BRIDGE_EXCLUDED_STATUSES": "Cancelled, Suspended"}
    )
    assert s.port == 9002 and s.expiring_window_months == 3
    assert s.excluded_statuses == ["Cancelled", "Suspended"]
    s = load_settings(cfg, overrides={"port": 9003}, environ={"BPO2_BRIDGE_PORT": "9002"})
    assert s.port == 9003


def test_screen_query_timeout_in_whole_or_fractional_seconds(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text("screen_query_timeout = 2.5\n")
    assert load_settings(cfg, environ={}).screen_query_timeout == 2.5
    assert load_settings(cfg, environ={"BPO2_BRIDGE_SCREEN_QUERY_TIMEOUT": "3"}).screen_query_timeout == 3.0
    assert load_settings(config_file=None, environ={}).screen_query_timeout == 10.0


def test_config_file_named_by_environment(tmp_path):
    cfg = tmp_path / "other.toml"
    cfg.write_text("threads = 3\n")
    assert load_settings(environ={"BPO2_BRIDGE_CONFIG": str(cfg)}).threads == 3


@pytest.mark.parametrize(
    ("env", "fragment"),
    [
        ({"BPO2_BRIDGE_PORT": "eighty"}, "'port'"),
        ({"BPO2_BRIDGE_PORT": "70000"}, "at most 65535"),
        ({"BPO2_BRIDGE_TODAY": "2026-02-30"}, "'today'"),
        ({"BPO2_BRIDGE_TIMEZONE": "Mars/Olympus"}, "unknown time zone"),
        ({"BPO2_BRIDGE_AUTH_MODE": "kerberos"}, "must be one of local, header"),
        ({"BPO2_BRIDGE_EXPIRING_WINDOW_MONTHS": "0"}, "at least 1"),
        ({"BPO2_BRIDGE_FULL_SYNC_TIME": "25:00"}, "HH:MM"),
        ({"BPO2_BRIDGE_SCREEN_QUERY_TIMEOUT": "soon"}, "'screen_query_timeout'"),
        ({"BPO2_BRIDGE_SCREEN_QUERY_TIMEOUT": "0.05"}, "between 0.1 and 3600 seconds"),
        ({"BPO2_BRIDGE_SCREEN_QUERY_TIMEOUT": "nan"}, "between 0.1 and 3600 seconds"),
    ],
)
def test_bad_values_name_the_key(env, fragment):
    with pytest.raises(SettingsError) as err:
        load_settings(environ=env)
    assert fragment in str(err.value)


def test_secrets_refused_in_file(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text('secret_key = "in-the-file"\n')
    with pytest.raises(SettingsError, match="BPO2_BRIDGE_SECRET_KEY"):
        load_settings(cfg, environ={})
    assert load_settings(environ={"BPO2_BRIDGE_SECRET_KEY": "s3"}).secret_key == "s3"


def test_unknown_key_and_broken_toml(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text("prot = 1\n")
    with pytest.raises(SettingsError, match="unknown setting 'prot'"):
        load_settings(cfg, environ={})
    cfg.write_text("port = \n")
    with pytest.raises(SettingsError, match="not valid TOML"):
        load_settings(cfg, environ={})


def test_cli_reports_bad_setting_in_one_line_exit_2(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text("port = 0\n")
    result = CliRunner().invoke(main, ["--config", str(cfg), "status"])
    assert result.exit_code == 2
    assert "port" in result.output and "Traceback" not in result.output
