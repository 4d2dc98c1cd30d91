"""Disk faults while publishing: a full disk or a read-only output folder is one line per
page (exit 1), every page published before is kept, and leftovers of killed runs go.

The faults are simulated (an ``OSError`` from the page writer, inherited by the forked
workers) everywhere, and made real on a small tmpfs where this machine allows mounting one
(root in a container with the right to mount; skipped otherwise).
"""

from __future__ import annotations

import errno
import os
import subprocess
from pathlib import Path

import pytest
import yaml

from salesnb import publish as publishing
from salesnb.cli import main

PERIOD = "2026-10"


def _base(tmp_path: Path, demo_dir: Path, notebooks: list[str]) -> Path:
    base = tmp_path / "params" / "base.yaml"
    base.parent.mkdir(parents=True, exist_ok=True)
    base.write_text(yaml.safe_dump({"source": str(demo_dir), "report": {"notebooks": notebooks}}))
    return base


def _report(base: Path, out: Path, *extra: str) -> int:
    return main(["report", "--base", str(base), "--period", PERIOD, "--out", str(out), "--quiet", *extra])


@pytest.mark.parametrize(("code", "words"), [(errno.ENOSPC, "no space left on device"),
                                             (errno.EROFS, "read-only file system")])
def test_simulated_fault_one_line_per_page_nothing_lost(
        demo_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch,
        code: int, words: str) -> None:
    base, out = _base(tmp_path, demo_dir, ["data_health", "funnel"]), tmp_path / "out"
    assert _report(base, out) == 0
    pages = {p: p.read_bytes() for p in (out / PERIOD).glob("*.html")}
    index = (out / "index.html").read_bytes()
    assert len(pages) == 2
    capsys.readouterr()

    real = publishing.files.atomic_write

    def faulty(path: Path, text: str) -> None:
        raise OSError(code, os.strerror(code), str(path))

    monkeypatch.setattr(publishing.files, "atomic_write", faulty)  # the forked workers inherit it
    assert _report(base, out, "--force") == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    for nb in ("data_health", "funnel"):
        assert f"FAILED {PERIOD} {nb}: {words}: " in err, err
    assert f"index not updated: {words}" in err
    assert len([ln for ln in err.splitlines() if ln.strip().startswith("FAILED")]) == 2
    assert {p: p.read_bytes() for p in pages} == pages  # every page as it was
    assert (out / "index.html").read_bytes() == index
    monkeypatch.setattr(publishing.files, "atomic_write", real)


def test_leftovers_of_a_killed_run_are_removed(demo_dir: Path, tmp_path: Path) -> None:
    base, out = _base(tmp_path, demo_dir, ["data_health"]), tmp_path / "out"
    (out / PERIOD / ".run-abc123").mkdir(parents=True)
    (out / PERIOD / ".run-abc123" / "data_health.ipynb").write_text("{}")
    (out / PERIOD / ".data_health.html.xyz.tmp").write_text("half a page")
    assert _report(base, out) == 0
    assert not list((out / PERIOD).glob(".run-*")) and not list((out / PERIOD).glob(".*.tmp"))
    assert (out / PERIOD / "data_health.html").is_file()


@pytest.fixture
def tmpfs(tmp_path: Path) -> Path:
    mount = tmp_path / "small"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip() or 'not root'})")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def test_real_full_disk_and_read_only_folder(demo_dir: Path, tmp_path: Path, tmpfs: Path,
                                            capsys: pytest.CaptureFixture) -> None:
    base, out = _base(tmp_path, demo_dir, ["data_health"]), tmpfs / "out"
    assert _report(base, out) == 0
    page = out / PERIOD / "data_health.html"
    good = page.read_bytes()
    capsys.readouterr()

    # fill the disk to the last byte
    with open(tmpfs / "filler", "wb") as fh, pytest.raises(OSError):
        while True:
            fh.write(b"\0" * (1 << 16))
            fh.flush()
    assert _report(base, out, "--force") == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and "NotJSONError" not in err
    assert f"FAILED {PERIOD} data_health: no space left on device" in err, err
    assert page.read_bytes() == good

    # the same folder read-only
    (tmpfs / "filler").unlink()
    subprocess.run(["mount", "-o", "remount,ro", str(tmpfs)], check=True)
    assert _report(base, out, "--force") == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert f"FAILED {PERIOD} data_health: read-only file system" in err, err
    assert page.read_bytes() == good
