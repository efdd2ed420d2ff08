"""``trio-chat bench`` from an installed wheel, run outside the checkout: the C
generator's source and the threaded original come from the package itself."""

from __future__ import annotations

import json
import os
import shutil
import sys
import zipfile
from pathlib import Path

import pytest
import trio

from trio_chat.tools.bench_servers import LOADGEN_FILES, c_loadgen

CHECKOUT = Path(__file__).resolve().parents[2]


def _copy_sources(to: Path) -> None:
    """What a wheel is built from, without the checkout's build leftovers."""
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(CHECKOUT / name, to / name)
    shutil.copytree(
        CHECKOUT / "trio_chat", to / "trio_chat", ignore=shutil.ignore_patterns("__pycache__")
    )


@pytest.mark.timeout(240)
async def test_bench_runs_from_an_installed_wheel_outside_the_checkout(tmp_path: Path) -> None:
    source, site, elsewhere = tmp_path / "src", tmp_path / "site", tmp_path / "elsewhere"
    for directory in (source, site, elsewhere):
        directory.mkdir()
    _copy_sources(source)
    pip = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), "."]
    with trio.fail_after(200):
        built = await trio.run_process(pip, cwd=source, capture_stderr=True, check=False)
    assert built.returncode == 0, built.stderr.decode()
    [wheel] = [tmp_path / name for name in os.listdir(tmp_path) if name.endswith(".whl")]
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        archive.extractall(site)
    packaged = {f"trio_chat/benchmarks/{name}" for name in LOADGEN_FILES}
    assert packaged | {"trio_chat/benchmarks/threaded_original.py"} <= names
    # The checkout's own files are out of reach: only the wheel's code runs.
    env = {**os.environ, "PYTHONPATH": str(site)}
    where = [sys.executable, "-c", "import trio_chat; print(trio_chat.__file__)"]
    found = await trio.run_process(where, cwd=elsewhere, env=env, capture_stdout=True)
    assert Path(found.stdout.decode().strip()).is_relative_to(site)
    report = elsewhere / "bench.json"
    bench = [sys.executable, "-m", "trio_chat", "bench", "--scenario", "tiny"]
    with trio.fail_after(120):
        done = await trio.run_process(
            [*bench, "--json", str(report)],
            cwd=elsewhere,
            env=env,
            capture_stdout=True,
            capture_stderr=True,
            check=False,
        )
    assert done.returncode == 0, done.stderr.decode()
    assert "load generator: C" in done.stdout.decode()
    runs = json.loads(report.read_text())
    assert [(run["target"], run["error"]) for run in runs] == [
        ("trio_chat", None),
        ("threaded-original", None),
    ]
    assert all(run["phases"][0]["lost"] == 0 for run in runs)
    # Compiled once into the user's cache directory (the test's private one).
    cache = Path(os.environ["XDG_CACHE_HOME"]) / "trio-chat"
    assert any(name.startswith("loadgen-") for name in os.listdir(cache))


def test_the_c_generator_is_built_once_into_the_cache(tmp_path: Path) -> None:
    first = c_loadgen(tmp_path)
    assert first is not None
    binary = Path(first[0])
    assert binary.parent == tmp_path
    stamp = binary.stat().st_mtime_ns
    assert c_loadgen(tmp_path) == first
    assert binary.stat().st_mtime_ns == stamp
