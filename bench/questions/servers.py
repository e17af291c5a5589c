"""The three servers under test, each a process of its own on 127.0.0.1.

- the bridge: `bpo2-bridge serve --no-scheduler`, 8 threads, its settings in BPO2_BRIDGE_*
  variables, from this checkout or another one (BPO2_BENCH_BRIDGE names its executable, so an
  older checkout can be measured with the same questions); BPO2_BENCH_PROCESSES of them (1 by
  default), each on a port of its own, as a host runs one per core behind nginx;
- the bare endpoint (`bench.questions.bare`) on a snapshot file;
- Datasette on the same file, in its default (mutable, read-only) mode: the bridge reads a file
  that incremental syncs and Refresh write, so it cannot open it immutable, and neither does
  Datasette here (`-i` would skip SQLite's locking and WAL checks, and count every table at
  start-up). It gets 8 SQL threads, as the others get 8 server threads.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from bench.load_client import TOKEN, Session
from bench.load_server import SECRET, web_unit_environment
from bench.sync import DEMO, TODAY

THREADS = 8
ROOT = Path(__file__).resolve().parents[2]  # where `bench` imports from
BRIDGE = Path(os.environ.get("BPO2_BENCH_BRIDGE") or Path(sys.executable).with_name("bpo2-bridge"))
DATASETTE = Path(sys.executable).with_name("datasette")
# run with the Python of the bridge under test: its own code syncs its cache and adds the users
PREPARE = """
import time
from bpo2_bridge.bridge import Bridge
from bpo2_bridge.settings import load_settings
try:
    from bpo2_bridge.store.users import create_demo_users, get_user
except ImportError:  # a bridge from before the source/cache/store packages, for a before/after run
    from bpo2_bridge.users import create_demo_users, get_user

bridge = Bridge(load_settings())
if not bridge.cache.exists():
    from bpo2_bridge.sync.full import full_sync

    print("syncing the demo into the cache (once)", flush=True)
    started = time.monotonic()
    full_sync(bridge)
    print(f"  full sync {time.monotonic() - started:.0f} s", flush=True)
if any(get_user(bridge.store, login) is None for login in ("admin", "sales1")):
    create_demo_users(bridge.store)
bridge.dispose()
"""


def bridge_environment(data_dir: Path) -> dict[str, str]:
    settings: dict[str, object] = {
        "data_dir": data_dir,
        "source_url": f"sqlite:///{DEMO}",
        "share_root": DEMO.parent / "share",
        "today": TODAY.isoformat(),
        "secret_key": SECRET,
        "threads": THREADS,
        "login_attempts_per_minute": 1000,
        "statement_timeout": 3600,  # the one-off full sync streams millions of rows
    }
    if os.environ.get("BPO2_BENCH_CACHE_URL"):  # the bridge's cache on PostgreSQL
        settings["cache_url"] = os.environ["BPO2_BENCH_CACHE_URL"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("BPO2_BRIDGE_")}
    return {
        **env,
        **web_unit_environment(),
        **{f"BPO2_BRIDGE_{k.upper()}": str(v) for k, v in settings.items()},
    }


def prepare_bridge(data_dir: Path) -> None:
    """The bridge's cache synced from the large demo when it has none, and the demo users."""
    if os.environ.get("BPO2_BENCH_CACHE_URL") or not any((data_dir / "cache").glob("cache-*.sqlite")):
        from bench.sync import ensure_demo

        ensure_demo("large")
    subprocess.run(
        [str(BRIDGE.with_name("python")), "-c", PREPARE], env=bridge_environment(data_dir), check=True
    )


def snapshot_file(data_dir: Path) -> Path:
    """The snapshot the bare endpoint and Datasette read: BPO2_BENCH_SNAPSHOT, or the newest one
    in the bridge's cache folder."""
    if os.environ.get("BPO2_BENCH_SNAPSHOT"):
        return Path(os.environ["BPO2_BENCH_SNAPSHOT"])
    return sorted((data_dir / "cache").glob("cache-*.sqlite"))[-1]


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """One server process; its standard error goes to `log`."""

    def __init__(self, name: str, args: list[str], log: Path, env: dict[str, str] | None = None) -> None:
        self.name = name
        self.port = _free_port()
        self.log = log
        self._log = log.open("wb")
        args = [a.replace("{port}", str(self.port)) for a in args]
        self.proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 120
        while not Session.answers(self.port):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                code = self.proc.returncode
                self.stop()
                ended = "is not answering" if code is None else f"ended with exit code {code}"
                raise RuntimeError(f"{name} did not start ({ended}); see {log}")
            time.sleep(0.2)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._log.close()


def start_bridge(data_dir: Path, logs: Path, processes: int = 1) -> list[Server]:
    """`processes` web processes on ports of their own, as docs/deploy.md runs one per core
    behind nginx."""
    args = [str(BRIDGE), "serve", "--no-scheduler", "--host", "127.0.0.1", "--port", "{port}"]
    env = bridge_environment(data_dir)
    return [Server("bridge", args, logs / f"bridge-{n}.log", env) for n in range(processes)]


def start_bare(snapshot: Path, logs: Path) -> Server:
    args = [sys.executable, "-m", "bench.questions.bare", str(snapshot), "{port}"]
    return Server("bare", args, logs / "bare.log")


def start_datasette(snapshot: Path, logs: Path) -> Server:
    settings = {"default_page_size": 20, "sql_time_limit_ms": 5000, "num_sql_threads": THREADS}
    args = [str(DATASETTE), "serve", str(snapshot), "--host", "127.0.0.1", "--port", "{port}"]
    for name, value in settings.items():
        args += ["--setting", name, str(value)]
    return Server("datasette", args, logs / "datasette.log")


def sign_in(port: int, login: str) -> str:
    """The session cookie of `login`, signed in through the form (with its CSRF token)."""
    from bpo2_bridge.store.users import DEMO_PASSWORD

    session = Session(port, login, 0)
    token = TOKEN.search(session.request("GET", "/login").body.decode())
    assert token, "no sign-in form"
    form = {"login": login, "password": DEMO_PASSWORD, "csrf_token": token.group(1)}
    answer = session.request("POST", "/login", form)
    assert answer.status == 302, f"sign-in of {login} answered {answer.status}"
    session.conn.close()
    return session.cookie
