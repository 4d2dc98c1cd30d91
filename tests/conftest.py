"""Shared fixtures: the demo data generated once per test session into a temporary folder."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402

import salesnb  # noqa: E402
from salesnb.data.demo import write_demo  # noqa: E402

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The full demo data set (about 150k orders), written once per session."""
    return write_demo(tmp_path_factory.mktemp("demo") / "demo")


@pytest.fixture(scope="session")
def demo(demo_dir: Path) -> salesnb.SalesData:
    return salesnb.load(demo_dir)


@pytest.fixture(scope="session")
def truth(demo_dir: Path) -> dict:
    return json.loads((demo_dir / "truth.json").read_text(encoding="utf-8"))
