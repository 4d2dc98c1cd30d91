"""The README's mapping section is generated or checked, never trusted: its table of the
canonical columns is the schema's, and every params example in it loads and passes the
params check (the lookup example once failed: YAML read its unquoted `on` as true)."""

from __future__ import annotations

import re

import pytest
import yaml

from salesnb import config
from salesnb.config import ParamsLoader
from salesnb.data.schema import markdown
from salesnb.params import check_params

README = (config.ROOT / "README.md").read_text(encoding="utf-8")


def test_the_schema_table_is_generated_from_the_schema() -> None:
    block = re.search(r"<!-- schema:start[^>]*-->\n(.*?)\n<!-- schema:end -->", README, re.S)
    assert block, "README lost its generated schema table"
    assert block.group(1) == markdown(), "run salesnb.data.schema.markdown() and paste it into README.md"


YAML_BLOCKS = re.findall(r"```yaml\n(.*?)```", README, re.S)


@pytest.mark.parametrize("block", YAML_BLOCKS, ids=[f"yaml-{i}" for i in range(len(YAML_BLOCKS))])
def test_every_yaml_example_is_valid_params(block: str) -> None:
    params = yaml.load(block, Loader=ParamsLoader)  # noqa: S506 (a SafeLoader)
    assert isinstance(params, dict)
    assert check_params(params, "README.md") == []


def _option_examples() -> list[tuple[str, dict]]:
    section = README[README.index("| option | example | what it does |"):]
    section = section[:section.index("\n\n")]
    found = []
    for row in section.splitlines()[2:]:
        option, example = (cell.strip() for cell in row.strip("|").split(" | ")[:2])
        for snippet in re.findall(r"`([^`]+: [^`]+)`", example):
            found.append((f"{option} {snippet[:30]}", yaml.load("{" + snippet + "}", Loader=ParamsLoader)))  # noqa: S506
    return found


OPTIONS = _option_examples()


@pytest.mark.parametrize(("name", "options"), OPTIONS, ids=[n for n, _ in OPTIONS])
def test_every_mapping_option_example_is_valid(name: str, options: dict) -> None:
    table = {"path": "exports/orders.csv", **options}
    assert check_params({"source": {"tables": {"orders": table}}}, "README.md") == [], name


def test_every_option_of_the_schema_has_an_example() -> None:
    from salesnb.params import TableOptions

    shown = {key for _, options in OPTIONS for key in options}
    section = README[README.index("## Your own data"):README.index("**CRM presets:**")]
    documented = set(re.findall(r"`(\w+)`", section)) | set(re.findall(r"^\s+(\w+):", section, re.M))
    database_only = {"url", "table", "query", "since"}  # the database section shows these
    missing = set(TableOptions.model_fields) - shown - documented - database_only - {"path"}
    assert not missing, f"README shows no example of {sorted(missing)}"
