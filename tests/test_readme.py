"""README.md stays true to the tree: its layout table names every package, every path it
names exists, and it links to nothing outside the repository."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def layout_paths() -> set[str]:
    section = README.split("## Layout", 1)[1].split("\n## ", 1)[0]
    return {m.rstrip("/") for m in re.findall(r"^\| `([^`]+)`", section, flags=re.MULTILINE)}


def packages() -> set[str]:
    """Top-level packages and the center's own sub-packages (``ioc/<name>/``)."""
    top = {p.parent.name for p in ROOT.glob("*/__init__.py")}
    inner = {
        f"ioc/{p.parent.name}"
        for p in (ROOT / "ioc").glob("*/__init__.py")
        if p.parent.name != "__pycache__"
    }
    nested = {f"devices/{p.parent.name}" for p in (ROOT / "devices").glob("*/__init__.py")}
    return top | inner | nested


def test_layout_table_names_every_package() -> None:
    named = layout_paths()
    missing = {
        pkg
        for pkg in packages()
        if pkg not in named and not any(n.startswith(pkg + "/") for n in named)
    }
    assert missing == set(), f"README's layout table does not name {sorted(missing)}"


def test_every_path_in_the_layout_table_exists() -> None:
    assert layout_paths(), "README has no layout table"
    assert {p for p in layout_paths() if not (ROOT / p).exists()} == set()


def test_readme_links_stay_inside_the_repository() -> None:
    targets = re.findall(r"\]\(([^)]+)\)", README)
    local = [t for t in targets if "://" not in t and not t.startswith("#")]
    outside = [t for t in local if (ROOT / t.split("#")[0]).resolve().is_relative_to(ROOT) is False]
    assert outside == []
    assert [t for t in local if not (ROOT / t.split("#")[0]).exists()] == []
