"""The deployment docs and example files stay true to the product: real settings, parseable files."""

from __future__ import annotations

import configparser
import re
import shlex
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from bpo2_bridge.settings import BY_NAME, ENV_PREFIX

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "docs" / "deploy.md", ROOT / "docs" / "operations.md"]
DEPLOY = ROOT / "deploy"
UNITS = sorted((DEPLOY / "systemd").glob("*.service"))
# read by the settings loader itself to find the file; not a setting
LOADER_VARIABLES = {ENV_PREFIX + "CONFIG"}

TOML_BLOCK = re.compile(r"```toml\n(.*?)```", re.S)
TOML_KEY = re.compile(r"^\s*([a-z][a-z0-9_]*)\s*=", re.M)
INLINE_ASSIGNMENT = re.compile(r"`([a-z][a-z0-9_]*) = [^`]+`")
ENV_NAME = re.compile(re.escape(ENV_PREFIX) + r"[A-Z0-9_]+")


def mentioned_settings(text: str) -> set[str]:
    names = set(INLINE_ASSIGNMENT.findall(text))
    for block in TOML_BLOCK.findall(text):
        names.update(TOML_KEY.findall(block))
    return names


def mentioned_env(text: str) -> set[str]:
    return set(ENV_NAME.findall(text)) - LOADER_VARIABLES


def test_docs_name_only_real_settings() -> None:
    found, unknown = set(), set()
    for doc in DOCS:
        text = doc.read_text(encoding="utf-8")
        names = mentioned_settings(text)
        found |= names
        unknown |= {f"{doc.name}: {n} = ..." for n in names if n not in BY_NAME}
    assert len(found) >= 10, "the pattern stopped finding settings in the docs"
    assert not unknown, sorted(unknown)


def test_environment_variables_name_real_settings() -> None:
    files = DOCS + [p for p in DEPLOY.rglob("*") if p.is_file()]
    unknown = {
        f"{path.relative_to(ROOT)}: {var}"
        for path in files
        for var in mentioned_env(path.read_text(encoding="utf-8"))
        if var.removeprefix(ENV_PREFIX).lower() not in BY_NAME
    }
    assert not unknown, sorted(unknown)


def test_the_checker_catches_an_invented_setting() -> None:
    text = "set `cache_size = 5` or BPO2_BRIDGE_CACHE_SIZE\n```toml\nport = 1\nfrobnicate = true\n```"
    assert mentioned_settings(text) - set(BY_NAME) == {"cache_size", "frobnicate"}
    assert mentioned_env(text) == {"BPO2_BRIDGE_CACHE_SIZE"}


@pytest.mark.parametrize("unit", UNITS, ids=lambda p: p.name)
def test_systemd_units_parse_and_run_bpo2_bridge(unit: Path) -> None:
    parser = configparser.ConfigParser(interpolation=None, strict=True)  # %i is systemd's, not ours
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(unit.read_text(encoding="utf-8"))
    assert {"Unit", "Service", "Install"} <= set(parser.sections())
    argv = shlex.split(parser["Service"]["ExecStart"])
    assert Path(argv[0]).name == "bpo2-bridge"
    env = parser["Service"]["Environment"]
    assert env.startswith(ENV_PREFIX + "CONFIG=")


def test_web_units_leave_the_jobs_to_the_single_scheduler() -> None:
    commands = {}
    for unit in UNITS:
        parser = configparser.ConfigParser(interpolation=None)
        parser.read_string(unit.read_text(encoding="utf-8"))
        commands[unit.name] = shlex.split(parser["Service"]["ExecStart"])[1:]
    assert commands["bpo2-bridge-web@.service"] == ["serve", "--no-scheduler", "--port", "80%i"]
    assert commands["bpo2-bridge-scheduler.service"] == ["scheduler"]


def test_iis_config_passes_the_windows_login_to_a_trusted_address() -> None:
    tree = ET.parse(DEPLOY / "iis" / "web.config")
    variables = {s.get("name"): s.get("value") for s in tree.iter("set")}
    header = "HTTP_" + BY_NAME["auth_header"].default.upper().replace("-", "_")
    assert variables[header] in {"{LOGON_USER}", "{REMOTE_USER}"}
    (action,) = [a for a in tree.iter("action") if a.get("type") == "Rewrite"]
    target = urlsplit(action.get("url", ""))
    assert target.hostname in BY_NAME["trusted_proxies"].default
    assert target.port == BY_NAME["port"].default


def _blocks(conf: str) -> list[tuple[str, str]]:
    """(header, body) of every `... { ... }` block, nested ones included."""
    found, stack = [], []
    for match in re.finditer(r"[{}]", conf):
        if match.group() == "{":
            start = conf.rfind(";", 0, match.start())
            start = max(start, conf.rfind("{", 0, match.start()), conf.rfind("}", 0, match.start()))
            stack.append((conf[start + 1 : match.start()].strip(), match.end()))
        else:
            assert stack, f"unbalanced '}}' at offset {match.start()}"
            header, body_start = stack.pop()
            found.append((header, conf[body_start : match.start()]))
    assert not stack, f"unclosed block: {stack[-1][0]}"
    return found


def test_nginx_conf_is_balanced_and_never_forwards_a_client_login() -> None:
    raw = (DEPLOY / "nginx" / "bpo2-bridge.conf").read_text(encoding="utf-8")
    conf = re.sub(r"#[^\n]*", "", raw)
    blocks = _blocks(conf)
    proxied = [(h, b) for h, b in blocks if h.startswith("location") and "proxy_pass" in b]
    assert proxied
    for header, body in proxied:
        assert re.search(r"proxy_set_header\s+X-Remote-User\s", body), header
    (upstream,) = [b for h, b in blocks if h.startswith("upstream")]
    ports = re.findall(r"server\s+127\.0\.0\.1:(\d+)", upstream)
    assert ports and all(p.startswith("80") for p in ports)  # the web@ instances' 80%i ports


def test_deploy_guide_links_the_sql_server_guide() -> None:
    assert "(sql-server.md)" in (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")
