"""mentiondesk as an installed program: the wheel carries what it reads, and ``demo`` works from any folder.

The wheel is built from the repository's sources into a temporary folder and installed, without its
dependencies, into a temporary venv. That venv sees the dependencies already installed in the test's
own environment through a ``.pth`` line (installing torch and transformers again would take minutes);
the line only adds the folder to ``sys.path``, so the editable install's import hook in it never runs
and the wheel's own copy of the packages is the one imported.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import pytest

from tests.test_demo_command import free_port, health, wait_for

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("console", "connectors", "classifiers", "storage")
NOT_SHIPPED = shutil.ignore_patterns("__pycache__", "*.pyc", ".mentiondesk", "*.egg-info", "secrets.toml")
# What an installed mentiondesk reads at run time besides its modules.
REQUIRED = [
    "classifiers/weights/sentiment-minilm.safetensors",
    "classifiers/weights/urgency-head.safetensors",
    "console/default_config.toml",
    "console/streamlit_app.py",
    "console/app_pages/inbox.py",
    "console/.streamlit/config.toml",
    "storage/migrations/env.py",
    "storage/migrations/script.py.mako",
    "storage/migrations/versions/0001_initial_schema.py",
]


def _setuptools_here() -> bool:
    """Whether this environment can build the wheel itself (no download of build requirements)."""
    try:
        major, minor = (int(part) for part in version("setuptools").split(".")[:2])
    except (PackageNotFoundError, ValueError):
        return False
    return (major, minor) >= (70, 1)  # bdist_wheel is part of setuptools from 70.1 on


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel, built from a copy of the sources so no build/ folder or stale file comes from the repository."""
    src, dist = tmp_path_factory.mktemp("src"), tmp_path_factory.mktemp("dist")
    for name in ("pyproject.toml", "README.md", "MANIFEST.in"):
        if (ROOT / name).exists():
            shutil.copy2(ROOT / name, src / name)
    for package in PACKAGES:
        shutil.copytree(ROOT / package, src / package, ignore=NOT_SHIPPED)
    isolation = ["--no-build-isolation", "--no-index"] if _setuptools_here() else []
    cmd = [sys.executable, "-m", "pip", "wheel", str(src), "--no-deps", "--quiet", "-w", str(dist), *isolation]
    subprocess.run(cmd, check=True, timeout=300)  # noqa: S603
    (built,) = dist.glob("mentiondesk-*.whl")
    return built


def test_the_wheel_carries_the_weights_config_app_migrations_and_theme(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    missing = [name for name in REQUIRED if name not in names]
    assert not missing, f"not in the wheel: {missing}"
    pages = {n for n in names if n.startswith("console/app_pages/")}
    assert pages == {f"console/app_pages/{p.name}" for p in (ROOT / "console/app_pages").glob("*.py")}
    versions = {n for n in names if re.fullmatch(r"storage/migrations/versions/\d{4}_\w+\.py", n)}
    assert versions == {
        f"storage/migrations/versions/{p.name}" for p in (ROOT / "storage/migrations/versions").glob("0*.py")
    }
    assert not [n for n in names if "secrets.toml" in n or "/tests/" in n]


def test_the_packaged_streamlit_theme_is_the_repository_one() -> None:
    root_theme = ROOT / ".streamlit" / "config.toml"
    if not root_theme.exists():
        pytest.skip("no .streamlit/config.toml at the repository root")
    packaged = tomllib.loads((ROOT / "console" / ".streamlit" / "config.toml").read_text(encoding="utf-8"))
    assert packaged == tomllib.loads(root_theme.read_text(encoding="utf-8"))


def _install(wheel: Path, venv: Path) -> Path:
    """A fresh venv with the wheel installed and the test environment's dependencies visible; its python."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)  # noqa: S603
    python = venv / "bin" / "python"
    pip = [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps", "--no-index"]
    subprocess.run([*pip, str(wheel)], check=True, timeout=300)  # noqa: S603
    ask = [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]
    site = Path(subprocess.run(ask, check=True, capture_output=True, text=True).stdout.strip())  # noqa: S603
    ours = dict.fromkeys([sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]])
    (site / "zz_test_dependencies.pth").write_text("".join(f"{path}\n" for path in ours), encoding="utf-8")
    return python


def _clean_env() -> dict[str, str]:
    drop = {"MENTIONDESK_DATABASE_URL", "MENTIONDESK_CONFIG", "MENTIONDESK_SECRETS_FILE", "PYTHONPATH", "VIRTUAL_ENV"}
    env = {k: v for k, v in os.environ.items() if k not in drop}
    return {**env, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "CI": "1"}


def _count(db: Path, sql: str) -> int:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10) as conn:
            return int(conn.execute(sql).fetchone()[0])
    except sqlite3.Error:
        return 0


def _open_files(session: int) -> set[str]:
    """Every file that a process of ``session`` (the demo and its children) has open; Linux only."""
    found: set[str] = set()
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if os.getsid(int(proc.name)) != session:
                continue
            found.update(os.readlink(fd) for fd in (proc / "fd").iterdir())
        except OSError:
            continue
    return found


@pytest.mark.slow
@pytest.mark.timeout(480)
def test_the_installed_demo_seeds_serves_and_ingests_into_one_store_in_the_run_folder(
    wheel: Path, tmp_path: Path
) -> None:
    python = _install(wheel, tmp_path / "venv")
    run, env = tmp_path / "run", _clean_env()
    run.mkdir()
    where = [str(python), "-c", "import console, storage, classifiers; print(console.__file__, storage.__file__)"]
    located = subprocess.run(where, cwd=run, env=env, check=True, capture_output=True, text=True).stdout  # noqa: S603
    assert str(ROOT) not in located and str(tmp_path / "venv") in located, located
    mentiondesk = str(tmp_path / "venv" / "bin" / "mentiondesk")
    shown = subprocess.run([mentiondesk, "--version"], cwd=run, env=env, capture_output=True, text=True, check=True)  # noqa: S603
    assert shown.stdout.strip() == f"mentiondesk {version('mentiondesk')}"

    repo_store_existed = (ROOT / ".mentiondesk").exists()
    port, db, log = free_port(), run / ".mentiondesk" / "mentiondesk.db", tmp_path / "demo.log"
    cmd = [mentiondesk, "demo", "--port", str(port), "--mentions", "12000", "--days", "1"]
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, cwd=run, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)  # noqa: S603
    try:
        wait_for(lambda: health(port) or proc.poll() is not None, 240, "the console's health endpoint")
        assert proc.poll() is None, log.read_text(errors="replace")[-3000:]
        seeded = _count(db, "SELECT count(*) FROM mentions")
        assert seeded >= 300
        wait_for(lambda: _count(db, "SELECT count(*) FROM mentions") > seeded, 120, "live mentions in the run folder")
        if Path("/proc/self/fd").exists():
            files = _open_files(proc.pid)
            assert str(db) in files
            assert not [f for f in files if f.startswith(str(ROOT / ".mentiondesk"))]
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    text = log.read_text(errors="replace")
    assert "demo logins" in text and "classification is OFF" not in text, text[-3000:]
    assert repo_store_existed or not (ROOT / ".mentiondesk").exists()
