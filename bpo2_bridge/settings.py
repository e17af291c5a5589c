"""Every setting, declared once as data, and the loader that fills them.

Order of precedence: defaults, then the TOML file (``config/bpo2-bridge.toml`` or the
file ``BPO2_BRIDGE_CONFIG`` names), then ``BPO2_BRIDGE_<NAME>`` environment variables,
then explicit overrides (tests). Secrets are accepted from the environment only.
"""

from __future__ import annotations

import datetime as dt
import os
import tomllib
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from .setting_values import (
    as_base_url,
    as_bool,
    as_choice,
    as_database_url,
    as_date_or_empty,
    as_existing_file_or_empty,
    as_function_names,
    as_hhmm,
    as_int,
    as_list,
    as_networks,
    as_number,
    as_seconds,
    as_str,
    as_timezone,
)

ENV_PREFIX = "BPO2_BRIDGE_"
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


class SettingsError(ValueError):
    """A setting has a bad value; the message names the key."""


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    parse: Callable[[Any], Any]
    help: str
    secret: bool = False


SETTINGS: tuple[Setting, ...] = (
    # -- where the data lives
    Setting(
        "source_url",
        "",
        as_database_url(),
        "SQLAlchemy URL of the BPO2 database (read-only). Empty: the demo source in data_dir.",
    ),
    Setting(
        "source_password",
        "",
        as_str,
        "Password for source_url, merged into the URL at connect time.",
        secret=True,
    ),
    Setting(
        "cache_url",
        "",
        as_database_url("sqlite", "postgresql"),
        "SQLAlchemy URL of the cache. Empty: SQLite files under data_dir/cache. PostgreSQL for several web hosts.",
    ),
    Setting(
        "store_url",
        "",
        as_database_url(),
        "SQLAlchemy URL of the application store (users, sync history, email log, check results). Empty: data_dir/store.sqlite.",
    ),
    Setting(
        "mapping_file",
        "",
        as_existing_file_or_empty,
        "TOML file mapping logical entities to BPO2 tables and columns. Empty: the packaged default (config/mapping.toml).",
    ),
    Setting("data_dir", "data", as_str, "Folder for the SQLite cache, application store and demo source."),
    Setting(
        "share_root",
        "",
        as_str,
        "Folder (file share) under which path-stored attachments live. Empty: data_dir/share.",
    ),
    # -- dates and contract windows
    Setting(
        "today",
        "",
        as_date_or_empty,
        "Pin 'today' (YYYY-MM-DD) for tests and demos. Empty: the real local date.",
    ),
    Setting(
        "timezone",
        "Africa/Johannesburg",
        as_timezone,
        "Time zone that defines the local date and times shown.",
    ),
    Setting("expiring_window_months", 6, as_int(1, 120), "Months ahead a contract counts as expiring."),
    Setting(
        "excluded_statuses",
        ["Cancelled"],
        as_list,
        "Contract statuses shown only on the Contracts tab, never as expired or expiring.",
    ),
    # -- source access and sync
    Setting("statement_timeout", 30, as_int(1, 3600), "Seconds any single source statement may run."),
    Setting(
        "sync_batch_size", 5000, as_int(100, 1_000_000), "Rows fetched and written per batch during sync."
    ),
    Setting(
        "incremental_interval_minutes", 15, as_int(1, 1440), "Minutes between scheduled incremental syncs."
    ),
    Setting("full_sync_time", "02:00", as_hhmm, "Local time of the nightly full sync (HH:MM)."),
    Setting("checks_time", "06:00", as_hhmm, "Local time of the daily SQL checks run (HH:MM)."),
    Setting(
        "history_days",
        90,
        as_int(1, 36500),
        "Days of sync history kept in the application store; older runs are pruned daily "
        "(the newest and the serving runs are always kept).",
    ),
    Setting("prune_time", "03:30", as_hhmm, "Local time of the daily history pruning (HH:MM)."),
    Setting(
        "scheduler_lock_seconds",
        120,
        as_int(10, 86400),
        "Lease length of the scheduler lock held in the application store.",
    ),
    # -- ops SQL
    Setting(
        "query_max_rows",
        1000,
        as_int(1, 1_000_000),
        "Default row cap of ad-hoc SQL (CLI --max-rows and the checks page).",
    ),
    Setting(
        "query_timeout",
        30,
        as_int(1, 3600),
        "Default seconds an ad-hoc SQL query may run, end to end (executing and fetching every row).",
    ),
    Setting(
        "query_allowed_functions",
        [],
        as_function_names,
        "Functions ad-hoc SQL may call beyond the built-in allow list of read-only functions: "
        "`name` for every engine, `mssql:name` (or postgresql:, mysql:, sqlite:) for one, "
        "`schema.name` for a schema-qualified function. Add only functions that change nothing.",
    ),
    Setting(
        "query_max_chars",
        20_000,
        as_int(100, 1_000_000),
        "Longest ad-hoc SQL text accepted, in characters; longer text is refused before it is parsed.",
    ),
    Setting(
        "query_max_depth",
        32,
        as_int(2, 200),
        "Deepest bracket nesting accepted in ad-hoc SQL; deeper text is refused before it is parsed.",
    ),
    Setting(
        "query_max_mb",
        64,
        as_int(1, 4096),
        "Megabytes of row data an ad-hoc query may bring back (all its rows together); on SQLite "
        "also the largest string or blob it may build.",
    ),
    # -- web
    Setting("host", "127.0.0.1", as_str, "Address the web server listens on."),
    Setting("port", 8080, as_int(1, 65535), "Port the web server listens on."),
    Setting(
        "threads",
        32,
        as_int(1, 256),
        "Worker threads of the web server (waitress). A Download waiting for its PDF holds one, "
        "as does a slow first question after a sync, while the others serve pages; up to 16 keep "
        "a cache connection open.",
    ),
    Setting(
        "pdf_workers",
        1,
        as_int(0, 64),
        "Processes beside each web process that render report PDFs, so a Download does not stall "
        "the other requests; 0 renders in the web process itself.",
    ),
    Setting(
        "pdf_nice",
        10,
        as_int(0, 19),
        "How far below the web process's CPU priority the PDF workers run (a nice increment; on "
        "Windows any value above 0 is the below-normal priority class), so pages stay quick while "
        "PDFs render on a busy host. 0 keeps the same priority.",
    ),
    Setting(
        "secret_key",
        "",
        as_str,
        "Key that signs sessions; the same on every web host. Empty: a random key per start (sessions end on restart).",
        secret=True,
    ),
    Setting(
        "auth_mode",
        "local",
        as_choice("local", "header"),
        "local: accounts with passwords; header: the login from a trusted front proxy.",
    ),
    Setting(
        "auth_header",
        "X-Remote-User",
        as_str,
        "Header carrying the login in header mode (IIS Windows authentication, nginx).",
    ),
    Setting(
        "trusted_proxies",
        ["127.0.0.1"],
        as_networks,
        "Addresses and networks (10.0.0.5, 10.0.0.0/24, ::1) whose auth_header is honoured.",
    ),
    Setting(
        "header_password_sign_in",
        False,
        as_bool,
        "Break-glass for header mode: also accept local passwords on the sign-in page (for when "
        "the front proxy's sign-in is down). Off: in header mode no password is accepted.",
    ),
    Setting(
        "session_cookie_secure",
        False,
        as_bool,
        "Send the session cookie only over HTTPS (its Secure flag). Turn on when browsers reach "
        "the bridge over HTTPS, e.g. behind IIS or nginx; leave off for plain HTTP.",
    ),
    Setting("ops_logins", [], as_list, "Logins given the ops role (Status and SQL checks pages)."),
    Setting(
        "screen_query_timeout",
        10.0,
        as_seconds(0.1, 3600),
        "Seconds any single statement reading the cache may run (screens and their JSON and "
        "exports, reports; a fraction such as 2.5 is allowed). Past it a screen answers "
        "503 asking for a narrower filter. Syncs writing the cache are not limited by it.",
    ),
    Setting("grid_max_page_size", 200, as_int(10, 10_000), "Largest page size a grid serves."),
    Setting(
        "grid_count_limit",
        10_000,
        as_int(100, 10_000_000),
        "Rows a grid counts before its pager says '10,000+' (page=last still counts them all).",
    ),
    Setting(
        "grid_count_seconds",
        0.015,
        as_seconds(0.01, 60),
        "Seconds a grid spends counting rows; past it the pager says how many it found, with '+'.",
    ),
    Setting(
        "login_attempts_per_minute",
        5,
        as_int(1, 1000),
        "Failed sign-ins per login and address before sign-in is throttled.",
    ),
    Setting(
        "log_level",
        "INFO",
        as_choice("debug", "info", "warning", "error"),
        "Level of the structured log lines on standard error.",
    ),
    Setting(
        "log_format",
        "json",
        as_choice("json", "text"),
        "Log lines as JSON objects (json) or key=value text (text).",
    ),
    # -- report and email
    Setting("company_name", "BPO2 Dealer", as_str, "Company name in the report header."),
    Setting("logo_file", "", as_str, "Optional image file shown in the report header."),
    Setting("currency_symbol", "R", as_str, "Currency symbol for money (South African rand by default)."),
    Setting("thousands_separator", " ", as_str, "Thousands separator for numbers and money."),
    Setting("decimal_separator", ".", as_str, "Decimal separator for numbers and money."),
    Setting("smtp_host", "localhost", as_str, "SMTP server for report emails."),
    Setting("smtp_port", 25, as_int(1, 65535), "SMTP port."),
    Setting("smtp_security", "none", as_choice("none", "starttls", "ssl"), "SMTP transport security."),
    Setting("smtp_user", "", as_str, "SMTP user name (empty: no authentication)."),
    Setting("smtp_password", "", as_str, "SMTP password.", secret=True),
    Setting("smtp_timeout", 20, as_int(1, 600), "Seconds to wait for the SMTP server."),
    Setting("mail_from", "crm@localhost", as_str, "From address of report emails."),
    Setting("email_hourly_limit", 30, as_int(1, 10_000), "Report emails one user may send per hour."),
    Setting(
        "public_url",
        "",
        as_base_url,
        "Address users open the bridge at (e.g. https://crm.example.local), for the links in digest "
        "emails and calendar events. Empty: http://<host>:<port> of the web server settings.",
    ),
    # -- renewals: the expiry digest and the calendar feed
    Setting(
        "renewal_margin_below",
        20,
        as_number(-1000, 1000),
        "A renewal is flagged unprofitable when its last-12-months margin (percent) is below this.",
    ),
    Setting(
        "renewal_trend_below",
        -20,
        as_number(-100, 1000),
        "A renewal is flagged volume falling when its volume trend (percent, last 3 full months "
        "against the 3 before) is below this.",
    ),
    Setting(
        "renewal_cost_rising_percent",
        10,
        as_int(0, 1000),
        "Renewals flag a contract's cost as rising when its last 3 full months' cost per copy is "
        "more than this percent above its last 12 months'.",
    ),
    Setting(
        "digest_enabled",
        False,
        as_bool,
        "Email every salesman the weekly expiry digest on digest_day at digest_time. Off until "
        "an administrator turns it on; `bpo2-bridge digest` sends it by hand either way.",
    ),
    Setting("digest_day", "monday", as_choice(*WEEKDAYS), "Day of the week the digest is sent."),
    Setting("digest_time", "07:00", as_hhmm, "Local time the digest is sent (HH:MM)."),
    Setting(
        "calendar_horizon_months",
        12,
        as_int(1, 120),
        "Months ahead the calendar feed lists expiring contracts.",
    ),
    Setting(
        "calendar_alarm_days",
        30,
        as_int(0, 365),
        "Days before a contract's expiry its calendar event reminds (0: on the day).",
    ),
)

BY_NAME = MappingProxyType({s.name: s for s in SETTINGS})


def package_config_dir() -> Path:
    from importlib.resources import files

    return Path(str(files("bpo2_bridge.config")))


def default_config_file() -> Path:
    return package_config_dir() / "bpo2-bridge.toml"


class Settings:
    """Validated settings; attribute access by setting name."""

    def __init__(self, values: dict[str, Any], config_file: Path | None = None) -> None:
        self._values = values
        self.config_file = config_file

    def __getattr__(self, name: str) -> Any:
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(name) from None

    def as_dict(self, reveal: bool = False) -> dict[str, Any]:
        return {k: ("***" if BY_NAME[k].secret and v and not reveal else v) for k, v in self._values.items()}

    def replace(self, **overrides: Any) -> Settings:
        values = dict(self._values)
        values.update(_validate(overrides, "override"))
        return Settings(values, self.config_file)

    # -- derived values, one place each
    @property
    def data_path(self) -> Path:
        return Path(self._values["data_dir"]).expanduser()

    @property
    def share_path(self) -> Path:
        return Path(self._values["share_root"] or self.data_path / "share").expanduser()

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self._values["timezone"])

    def today_date(self) -> dt.date:
        pinned = self._values["today"]
        if pinned:
            return dt.date.fromisoformat(pinned)
        return dt.datetime.now(self.tz).date()

    def now(self) -> dt.datetime:
        """Local wall-clock time (naive), matching how BPO2 stores datetimes."""
        return dt.datetime.now(self.tz).replace(tzinfo=None)

    @property
    def base_url(self) -> str:
        """Where users open the bridge, for links that leave it (emails, calendar events)."""
        return self._values["public_url"] or f"http://{self._values['host']}:{self._values['port']}"

    @property
    def demo_source_path(self) -> Path:
        return self.data_path / "bpo2-demo.sqlite"

    @property
    def mapping_path(self) -> Path:
        return (
            Path(self._values["mapping_file"])
            if self._values["mapping_file"]
            else package_config_dir() / "mapping.toml"
        )


def _validate(raw: dict[str, Any], origin: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in raw.items():
        setting = BY_NAME.get(key)
        if setting is None:
            raise SettingsError(f"{origin}: unknown setting {key!r}")
        try:
            out[key] = setting.parse(value)
        except ValueError as exc:
            raise SettingsError(f"{origin}: setting {key!r}: {exc}") from None
    return out


def load_settings(
    config_file: str | os.PathLike[str] | None = None,
    overrides: dict[str, Any] | None = None,
    environ: dict[str, str] | None = None,
) -> Settings:
    """Build settings from defaults, file, environment and overrides; raise SettingsError."""
    env = os.environ if environ is None else environ
    values = {s.name: s.default for s in SETTINGS}

    path = Path(config_file) if config_file else None
    if path is None and env.get(ENV_PREFIX + "CONFIG"):
        path = Path(env[ENV_PREFIX + "CONFIG"])
    if path is None and default_config_file().exists():
        path = default_config_file()
    if path is not None:
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise SettingsError(f"config file {path} not found") from None
        except tomllib.TOMLDecodeError as exc:
            raise SettingsError(f"config file {path}: not valid TOML: {exc}") from None
        for key in data:
            if key in BY_NAME and BY_NAME[key].secret and data[key] != "":
                raise SettingsError(
                    f"{path}: setting {key!r} is a secret; set it in the environment as {ENV_PREFIX}{key.upper()}"
                )
        values.update(_validate(data, str(path)))

    from_env = {
        s.name: env[ENV_PREFIX + s.name.upper()] for s in SETTINGS if ENV_PREFIX + s.name.upper() in env
    }
    values.update(_validate(from_env, "environment"))
    if overrides:
        values.update(_validate(overrides, "override"))
    return Settings(values, path)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, list):
        return "[" + ", ".join(f'"{v}"' for v in value) + "]"
    return f'"{value}"'


def settings_markdown() -> str:
    """The README's settings table, generated from the declarations."""
    lines = ["| setting | default | what it does |", "|---|---|---|"]
    for s in SETTINGS:
        default = "(environment only)" if s.secret else f"`{_toml_value(s.default)}`"
        lines.append(f"| `{s.name}` | {default} | {s.help} |")
    return "\n".join(lines)


def settings_toml() -> str:
    """The documented config file, every key commented out at its default."""
    out = [
        "# bpo2-bridge settings. Every key is optional; the commented values are the defaults.",
        "# Each key can also be set in the environment as BPO2_BRIDGE_<KEY> (upper case), which wins.",
        "# Secrets are accepted from the environment only and are not listed here.",
        "",
    ]
    for s in SETTINGS:
        if s.secret:
            out.append(f"# {s.name}: secret, set BPO2_BRIDGE_{s.name.upper()} in the environment")
            out.append("")
            continue
        out.append(f"# {s.help}")
        out.append(f"# {s.name} = {_toml_value(s.default)}")
        out.append("")
    return "\n".join(out)
