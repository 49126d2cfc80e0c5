"""The README works as written: its Python API example runs, and its cheap shell commands run
from a shell whose PATH does not contain the venv (``env -i PATH=/usr/bin:/bin``).

The example and the commands are read from README.md itself, so the test guards the text a
user will read.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from workflow_utils import CLEAN_PATH, REPO, clean_environment, copy_workflow

README = REPO / "README.md"
API_HEADING = "## Python API"
VENV = Path(sys.prefix)  # the venv running the tests: what `make` puts at .venv

# shell commands cheap enough to run in a test (the others build data and take minutes)
CHEAP = (
    re.compile(r"^\.venv/bin/snakemake -n\b"),
    re.compile(r"^\.venv/bin/stochastic-attention (--version|list|[a-z0-9-]+ --help)\b"),
    re.compile(r"^\.venv/bin/stochastic-attention check-config\b"),
)


def _documents() -> list[Path]:
    return [README]


def _fenced(text: str, language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", text, flags=re.M | re.S)


def api_example() -> str:
    """The first ```python block under the 'Python API' heading (README.md first)."""
    for path in _documents():
        text = path.read_text()
        if API_HEADING not in text:
            continue
        section = text.split(API_HEADING, 1)[1].split("\n## ", 1)[0]
        blocks = _fenced(section, "python")
        if blocks:
            return blocks[0]
    raise AssertionError(f"no ```python block under {API_HEADING!r} in README.md")


def cheap_commands() -> list[str]:
    """Every cheap shell line of the ```bash blocks, as written (comments included)."""
    commands: list[str] = []
    for path in _documents():
        for block in _fenced(path.read_text(), "bash"):
            for line in block.splitlines():
                if any(pattern.match(line.strip()) for pattern in CHEAP):
                    commands.append(line.strip())
    return list(dict.fromkeys(commands))


def _package_is_this_checkout() -> bool:
    """Whether the venv's own ``stochastic_attention`` is this checkout's ``src``."""
    probe = subprocess.run(
        [sys.executable, "-c", "import stochastic_attention; print(stochastic_attention.__file__)"],
        env={"PATH": CLEAN_PATH},
        capture_output=True,
        text=True,
        cwd="/",
    )
    return probe.stdout.strip().startswith(str(REPO / "src"))


@pytest.fixture(scope="module")
def scratch(tmp_path_factory) -> Path:
    """A copy of the workflow with ``.venv`` pointing at the venv running the tests."""
    workdir = copy_workflow(tmp_path_factory.mktemp("readme"))
    (workdir / ".venv").symlink_to(VENV, target_is_directory=True)
    (workdir / "src").symlink_to(REPO / "src", target_is_directory=True)
    return workdir


def shell(command: str, cwd: Path, timeout: int = 300) -> subprocess.CompletedProcess:
    """``command`` through bash with ``env -i``: PATH=/usr/bin:/bin, no venv activated.

    PYTHONPATH is set only when the venv's installed package is another checkout (a git
    worktree sharing one venv), so that the commands exercise this checkout's code.
    """
    env = {"PATH": CLEAN_PATH, "HOME": clean_environment()["HOME"], "LANG": "C.UTF-8"}
    if not _package_is_this_checkout():
        env["PYTHONPATH"] = str(REPO / "src")
    return subprocess.run(
        ["/bin/bash", "-c", command],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_the_python_api_example_runs_and_says_what_the_text_says(tmp_path):
    code = api_example()
    env = clean_environment()
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    novelty = [float(v) for v in re.findall(r"novelty ([0-9.]+)", result.stdout)]
    assert len(novelty) == 2, result.stdout
    assert novelty[0] > novelty[1] + 0.1  # near β* the chains leave the stored patterns


def test_the_readme_lists_the_cheap_commands():
    commands = cheap_commands()
    assert any(c.startswith(".venv/bin/snakemake -n") for c in commands), commands
    assert any("--version" in c for c in commands), commands
    assert any(re.search(r"stochastic-attention [a-z-]+ --help", c) for c in commands), commands


@pytest.mark.parametrize(
    "command", cheap_commands(), ids=lambda c: c.split("#")[0].strip().removeprefix(".venv/bin/")
)
def test_readme_command_runs_without_the_venv_on_path(scratch, command):
    result = shell(command, scratch)
    assert result.returncode == 0, f"{command}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    output = result.stdout + result.stderr
    words = shlex.split(command, comments=True)
    if "--version" in words:
        from stochastic_attention import __version__

        assert result.stdout.strip() == f"stochastic-attention {__version__}"
    elif "--help" in words:
        name = words[1]
        assert result.stdout.startswith(f"stochastic-attention {name}")
        assert "--params" in result.stdout and "--input" in result.stdout
    elif "check-config" in words:
        assert ": valid — " in result.stdout, output[-3000:]
    elif "-n" in words:
        assert "Job stats:" in output or "Nothing to be done" in output, output[-3000:]


def _steps() -> list[str]:
    from stochastic_attention import cli

    cli._load_steps()  # the library's steps (other test modules register toy ones)
    return sorted(n for n, f in cli.STEPS.items() if f.__module__.startswith("stochastic_"))


@pytest.mark.parametrize("name", _steps())
def test_step_help_shows_usage_and_the_steps_docstring(name, capsys):
    from stochastic_attention import cli

    assert cli.main([name, "--help"]) == 0
    printed = capsys.readouterr().out
    docstring = " ".join(cli.STEPS[name].__doc__.split())
    assert printed.startswith(f"stochastic-attention {name}\n")
    assert f"usage: stochastic-attention {name} --params JSON" in printed
    assert "--input NAME=PATH" in printed and "--output NAME=PATH" in printed
    assert docstring in " ".join(printed.split())


def test_version_and_unknown_step(capsys):
    from stochastic_attention import __version__, cli

    with pytest.raises(SystemExit) as done:
        cli.main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out.strip() == f"stochastic-attention {__version__}"
    assert cli.main(["nosuch", "--help"]) == 1
    error = capsys.readouterr().err
    assert "unknown step 'nosuch'" in error and "sample" in error
