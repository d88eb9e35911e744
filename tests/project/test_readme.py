"""The README and the pages under docs/ say only what is true: their Python examples run as written, every module,
attribute and file they name exists, every link between them lands on a heading, and the README stays short."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest
from synth_support import EXAMPLES, ROOT

PAGES = sorted(
    [ROOT / "README.md", ROOT / "CONTRIBUTING.md", ROOT / "bench" / "README.md", *(ROOT / "docs").glob("*.md")]
)
README_MAX_LINES = 200

RUNNER = """
import sys
namespace = {"__name__": "readme"}
for number, block in enumerate(sys.stdin.read().split("\\0")):
    try:
        exec(compile(block, f"python block {number + 1}", "exec"), namespace)
    except Exception as error:
        raise SystemExit(f"python block {number + 1} failed: {type(error).__name__}: {error}")
"""


def _run_blocks(page: Path) -> subprocess.CompletedProcess[str]:
    """A page's Python examples in order, in one namespace (later ones reuse names of earlier ones), from examples/."""
    blocks = re.findall(r"```python\n(.*?)```", page.read_text(), flags=re.DOTALL)
    assert blocks, f"{page.name} has no python example"
    return subprocess.run(
        [sys.executable, "-c", RUNNER],
        input="\0".join(blocks),
        cwd=EXAMPLES,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_readme_library_example_runs() -> None:
    completed = _run_blocks(ROOT / "README.md")
    assert completed.returncode == 0, completed.stderr[-3000:]


def test_constructs_page_examples_run() -> None:
    completed = _run_blocks(ROOT / "docs" / "constructs.md")
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "2 L-1945791B" in completed.stdout


def test_the_readmes_minimal_config_is_valid(tmp_path: Path) -> None:
    from inferentia_cdk.planning.loader import load_config

    configs = [block for block in re.findall(r"```yaml\n(.*?)```", (ROOT / "README.md").read_text(), flags=re.DOTALL)]
    assert configs, "the README shows a minimal config"
    for i, text in enumerate(configs):
        path = tmp_path / f"readme-{i}.yaml"
        path.write_text(text)
        loaded = load_config(path)
        assert loaded.warnings == () and loaded.config.apis


def test_readme_is_short() -> None:
    assert len((ROOT / "README.md").read_text().splitlines()) <= README_MAX_LINES


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_pages_name_only_modules_and_files_that_exist(page: Path) -> None:
    text = page.read_text()
    dotted = set(re.findall(r"\binferentia_cdk(?:\.[a-z_]+)+", text))
    for name in sorted(dotted):
        # the longest prefix that is a module; the rest are attributes of it
        parts = name.split(".")
        module = next(".".join(parts[:end]) for end in range(len(parts), 0, -1) if _is_module(".".join(parts[:end])))
        value: object = importlib.import_module(module)
        for attribute in parts[len(module.split(".")) :]:
            assert hasattr(value, attribute), f"{page.name} names {name}, but {module} has no {attribute}"
            value = getattr(value, attribute)
    for path in sorted(set(re.findall(r"`((?:inferentia_cdk|tests|bench|examples|docs)/[\w./-]+)`", text))):
        assert (ROOT / path).exists(), f"{page.name} names {path}, which does not exist"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_links_land_on_a_page_and_a_heading(page: Path) -> None:
    for target, anchor in re.findall(r"\]\(((?![a-z]+://)[^)#\s]*)(?:#([\w-]+))?\)", page.read_text()):
        linked = (page.parent / target).resolve() if target else page
        assert linked.exists(), f"{page.name} links to {target}, which does not exist"
        if anchor and linked.suffix == ".md":
            assert anchor in _anchors(linked), f"{page.name} links to {target}#{anchor}, which has no such heading"


def _anchors(page: Path) -> set[str]:
    """GitHub's heading ids: lowercase, punctuation dropped, spaces to '-'."""
    headings = re.findall(r"^#+ (.*)$", page.read_text(), flags=re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}


def _is_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False
