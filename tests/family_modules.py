"""A stand-in family module for registry tests: found before the shipped ones of the same name."""

from __future__ import annotations

import sys
from pathlib import Path
from types import ModuleType

import pytest


def add_family_module(
    monkeypatch: pytest.MonkeyPatch, package: ModuleType, folder: Path, name: str, text: str
) -> None:
    (folder / f"{name}.py").write_text(text)
    # pkgutil and the import system both take the first module of a name along __path__.
    monkeypatch.setattr(package, "__path__", [str(folder), *package.__path__])
    monkeypatch.delitem(sys.modules, f"{package.__name__}.{name}", raising=False)
