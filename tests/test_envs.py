"""The conda environments in envs/ stay in step with requirements.txt and the rules.

Conda itself is not available offline, so these checks are static: every rule that runs a
command names an environment that exists, has its post-deploy script, and pins exactly the
versions the pipeline is tested with.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
RULES = sorted((REPO / "workflow" / "rules").glob("*.smk"))
ENVS = sorted((REPO / "envs").glob("*.yaml"))


def _pins(lines: list[str]) -> dict[str, str]:
    pins = {}
    for line in lines:
        requirement = line.split("#", 1)[0].strip()
        if not requirement:
            continue
        name, version = re.fullmatch(
            r"([A-Za-z0-9_.\-]+)(?:\[[^\]]*\])?==(\S+)", requirement
        ).groups()
        pins[name.lower()] = version
    return pins


def _rules_with_commands() -> list[tuple[str, str]]:
    """(rule name, text of its body) for every rule in workflow/rules that runs a command."""
    rules = []
    for path in RULES:
        for match in re.finditer(r"^rule (\w+):\n((?:    .*\n|\n)+)", path.read_text(), re.M):
            if re.search(r"^    (shell|script|run):", match.group(2), re.M):
                rules.append((match.group(1), match.group(2)))
    return rules


def test_every_rule_names_an_existing_environment():
    rules = _rules_with_commands()
    assert len(rules) >= 10
    for name, body in rules:
        env = re.search(r'^    conda:\n        "([^"]+)"', body, re.M)
        assert env, f"rule {name} has no conda: directive"
        path = (REPO / "workflow" / "rules" / env.group(1)).resolve()
        assert path.is_file(), f"rule {name}: {path} does not exist"
        assert path.parent == REPO / "envs"


def test_only_the_sample_rule_needs_torch():
    for name, body in _rules_with_commands():
        expected = "learn.yaml" if name == "sample" else "core.yaml"
        assert f"envs/{expected}" in body, name


@pytest.mark.parametrize("env", ENVS, ids=lambda p: p.name)
def test_environment_pins_match_requirements(env):
    spec = yaml.safe_load(env.read_text())
    assert "python=3.11" in spec["dependencies"]
    pip = next(d["pip"] for d in spec["dependencies"] if isinstance(d, dict))
    required = _pins((REPO / "requirements.txt").read_text().splitlines())
    pinned = _pins(pip)
    for name, version in pinned.items():
        assert required.get(name) == version, f"{env.name}: {name}=={version} vs requirements.txt"
    # everything the library imports at run time (not the workflow/test tools)
    runtime = {"numpy", "array-api-compat", "scipy", "pandas", "scikit-learn", "matplotlib",
               "pyyaml", "mlxtend"}
    assert runtime <= set(pinned), runtime - set(pinned)
    assert ("torch" in pinned) == (env.stem == "learn")


@pytest.mark.parametrize("env", ENVS, ids=lambda p: p.name)
def test_environment_installs_the_project(env):
    script = env.with_suffix(".post-deploy.sh")
    assert script.is_file(), f"{script.name} is missing: `stochastic-attention` would not exist"
    assert "pip install --no-deps" in script.read_text()
