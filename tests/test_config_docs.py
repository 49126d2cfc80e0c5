"""config/README.md is generated from the composed schema and must be up to date."""

from __future__ import annotations

import os
import subprocess
import sys

from stochastic_attention.config import compose_schema
from stochastic_attention.config_docs import SCHEMA, render
from workflow_utils import REPO

README = REPO / "config" / "README.md"


def test_config_readme_is_up_to_date():
    expected = render(compose_schema(SCHEMA))
    assert README.read_text() == expected, (
        "config/README.md is out of date: regenerate it with "
        "`PYTHONPATH=src python -m stochastic_attention.config_docs > config/README.md`"
    )


def test_readme_lists_every_key_of_every_kind():
    schema = compose_schema(SCHEMA)
    text = README.read_text()
    properties = schema["properties"]
    for key in properties:
        assert f"| `{key}` |" in text
    for section, field in (("datasets", "domain"), ("methods", "kind"), ("experiments", "kind")):
        for case in properties[section]["additionalProperties"]["allOf"]:
            name = case["if"]["properties"][field]["const"]
            heading = f"### {section}: `{field}: {name}`"
            assert heading in text
            block = text.split(heading, 1)[1].split("\n### ", 1)[0]
            for key in case["then"]["properties"]:
                assert f"| `{key}` |" in block, (section, name, key)
    for domain in properties["sources"]["properties"]:
        assert f"### `sources.{domain}`" in text
    assert "| `n_chains` | integer ≥ 2 | `30` |" in text  # a default from the schema


def test_the_module_writes_the_readme_to_stdout():
    result = subprocess.run(
        [sys.executable, "-m", "stochastic_attention.config_docs"],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO / "tests",  # the schema is found from the package, not the working directory
        env=os.environ | {"PYTHONPATH": str(REPO / "src")},
    )
    assert result.stdout == README.read_text()
