"""The docs keep up with the code: every environment variable the settings read is documented in
docs/configuration.md, the README stays short, and every relative link in the docs resolves."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CONFIGURATION = ROOT / "docs" / "configuration.md"
README_MAX_LINES = 150

# django-environ's readers (env.str, env.bool, ...) and plain env("NAME"): the first argument is the name.
_ENV_OBJECTS = {"env", "_env"}
# Other modules whose variables are configuration too: gunicorn reads its own.
_OTHER_CONFIG_SOURCES = ("triage/gunicorn_conf.py", "triage/gunicorn_intake_conf.py")
_NAME = re.compile(r"^[A-Z][A-Z0-9_]*$")


def settings_sources(root: Path) -> list[Path]:
    """triage/settings.py, or every module of a triage/settings/ package."""
    package = root / "triage" / "settings"
    if package.is_dir():
        return sorted(package.rglob("*.py"))
    module = root / "triage" / "settings.py"
    return [module] if module.is_file() else []


def _is_os_environ(node: ast.AST) -> bool:
    """`os.environ` or a bare `environ` imported from os."""
    if isinstance(node, ast.Attribute):
        return node.attr == "environ" and isinstance(node.value, ast.Name) and node.value.id == "os"
    return False


def _literal_name(node: ast.AST | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str) and _NAME.match(node.value):
        return node.value
    return None


def _read_name(node: ast.AST) -> str | None:
    """The variable name this node reads from the environment, if it is such a read."""
    if isinstance(node, ast.Call):
        func = node.func
        first = node.args[0] if node.args else None
        if not isinstance(first, ast.Constant):
            first = next((k.value for k in node.keywords if k.arg in ("var", "key")), first)
        reads = (
            # env("X") and env.<reader>("X", ...) of django-environ
            (isinstance(func, ast.Name) and func.id in _ENV_OBJECTS)
            or (
                isinstance(func, ast.Attribute)
                and isinstance(func.value, ast.Name)
                and func.value.id in _ENV_OBJECTS
                and func.attr != "read_env"
            )
            # os.environ.get("X"), os.getenv("X")
            or (
                isinstance(func, ast.Attribute) and func.attr in ("get", "pop") and _is_os_environ(func.value)
            )
            or (
                isinstance(func, ast.Attribute)
                and func.attr == "getenv"
                and isinstance(func.value, ast.Name)
                and func.value.id == "os"
            )
        )
        return _literal_name(first) if reads else None
    if isinstance(node, ast.Subscript) and _is_os_environ(node.value):  # os.environ["X"]
        return _literal_name(node.slice)
    if isinstance(node, ast.Compare) and any(
        _is_os_environ(c) for c in node.comparators
    ):  # "X" in os.environ
        return _literal_name(node.left)
    return None


def env_names_read(source: str) -> set[str]:
    """Names of the environment variables a module reads, found by walking its syntax tree:
    env("X"), env.<reader>("X", ...), os.environ.get("X"), os.getenv("X"), os.environ["X"],
    "X" in os.environ."""
    return {name for node in ast.walk(ast.parse(source)) if (name := _read_name(node))}


def documented_names(markdown: str) -> set[str]:
    """Variables listed in the first column of a table row: | `NAME` / `OTHER` | default | meaning |"""
    names: set[str] = set()
    for line in markdown.splitlines():
        if line.startswith("|") and not line.startswith("|---"):
            first_cell = line.split("|")[1]
            names.update(re.findall(r"`([A-Z][A-Z0-9_]*)`", first_cell))
    return names


def test_the_scanner_reads_a_settings_module_and_a_settings_package(tmp_path):
    body = (
        "import os\nimport environ\nenv = environ.Env()\n"
        'A = env.str("ONE_VAR", default="x")\n'
        'B = env("TWO_VAR")\n'
        'C = env.list("THREE_VAR", default=[])\n'
        'D = os.environ.get("FOUR_VAR", "")\n'
        'E = os.environ["FIVE_VAR"]\n'
        'F = "SIX_VAR" in os.environ\n'
        'G = os.getenv("SEVEN_VAR")\n'
        'H = env.json(var="EIGHT_VAR", default={})\n'
        'env.read_env(".env")\n'
        'name = "NOT_A_LITERAL_CALL"\n'
    )
    expected = {f"{n}_VAR" for n in ("ONE", "TWO", "THREE", "FOUR", "FIVE", "SIX", "SEVEN", "EIGHT")}

    module_root = tmp_path / "module"
    (module_root / "triage").mkdir(parents=True)
    (module_root / "triage" / "settings.py").write_text(body)
    assert [p.name for p in settings_sources(module_root)] == ["settings.py"]
    assert set().union(*(env_names_read(p.read_text()) for p in settings_sources(module_root))) == expected

    package_root = tmp_path / "package"
    (package_root / "triage" / "settings").mkdir(parents=True)
    (package_root / "triage" / "settings" / "__init__.py").write_text("from .base import *\n")
    (package_root / "triage" / "settings" / "base.py").write_text(body.split("D = ")[0])
    (package_root / "triage" / "settings" / "email.py").write_text(
        "import os\nfrom .base import env\n" + "D = " + body.split("D = ", 1)[1]
    )
    found = set().union(*(env_names_read(p.read_text()) for p in settings_sources(package_root)))
    assert found == expected


def test_documented_names_reads_the_first_column_only():
    text = "| variable | default | meaning |\n|---|---|---|\n| `A_B` / `C_D` | `E_F` | see `G_H` |\n"
    assert documented_names(text) == {"A_B", "C_D"}


def test_every_environment_variable_the_settings_read_is_in_configuration_md():
    sources = [*settings_sources(ROOT), *(ROOT / s for s in _OTHER_CONFIG_SOURCES)]
    assert sources, "no settings module found"
    read = set().union(*(env_names_read(p.read_text()) for p in sources))
    assert len(read) > 50, f"the scanner found only {sorted(read)}: has the settings' style changed?"
    missing = sorted(read - documented_names(CONFIGURATION.read_text()))
    assert not missing, f"read by the settings but not listed in docs/configuration.md: {missing}"


def test_every_variable_in_configuration_md_is_read_somewhere():
    code = "\n".join(
        p.read_text() for folder in ("triage", "tests", "bench") for p in (ROOT / folder).rglob("*.py")
    )
    stale = sorted(
        n
        for n in documented_names(CONFIGURATION.read_text())
        if f'"{n}"' not in code and f"'{n}'" not in code
    )
    assert not stale, f"docs/configuration.md lists variables nothing reads: {stale}"


def test_the_readme_is_short():
    lines = (ROOT / "README.md").read_text().splitlines()
    assert len(lines) <= README_MAX_LINES, f"README.md has {len(lines)} lines (at most {README_MAX_LINES})"


def _markdown_files() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), *sorted((ROOT / "bench").glob("*.md"))]


_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


@pytest.mark.parametrize("path", _markdown_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(path):
    broken = []
    for target in _LINK.findall(path.read_text()):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
            continue  # http:, mailto: and in-page anchors
        file_part = target.split("#", 1)[0]
        if not (path.parent / file_part).exists():
            broken.append(target)
    assert not broken, f"{path.relative_to(ROOT)} links to missing files: {broken}"


def test_no_issue_numbers_in_readme_or_docs():
    pattern = re.compile(r"issue #?\s*[0-9]", re.IGNORECASE)
    offenders = [
        f"{p.relative_to(ROOT)}:{n}"
        for p in _markdown_files()
        for n, line in enumerate(p.read_text().splitlines(), 1)
        if pattern.search(line)
    ]
    assert not offenders, f"issue numbers belong in git history: {offenders}"
