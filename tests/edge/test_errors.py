"""The exception tree drawn in edge/errors.py is the tree the classes form."""

from __future__ import annotations

import importlib
import pkgutil
import re

import edge.errors
from edge.errors import CitygateError

PACKAGES = ("edge", "deploy", "gateway", "central", "firmware_sim", "citygate")


def _drawn() -> dict[str, str | None]:
    """Each class in the docstring's drawing and its parent, from the column it is drawn at."""
    parents: dict[str, str | None] = {}
    stack: list[tuple[int, str]] = []
    doc = edge.errors.__doc__ or ""
    drawing = doc[doc.index("\nCitygateError") :].strip().split("\n\n")[0]
    for line in drawing.splitlines():
        found = re.search(r"[A-Z]\w+", line)
        if found is None or not re.fullmatch(r"[ ├└│─]*", line[: found.start()]):
            continue
        while stack and stack[-1][0] >= found.start():
            stack.pop()
        parents[found.group()] = stack[-1][1] if stack else None
        stack.append((found.start(), found.group()))
    return parents


def _classes() -> dict[str, set[str]]:
    """Each error class and the citygate errors it derives from directly."""
    for name in PACKAGES:
        package = importlib.import_module(name)
        for info in pkgutil.walk_packages(package.__path__, f"{name}."):
            importlib.import_module(info.name)
    found: dict[str, set[str]] = {"CitygateError": set()}
    todo = [CitygateError]
    while todo:
        cls = todo.pop()
        for sub in cls.__subclasses__():
            if sub.__module__.split(".")[0] in PACKAGES:  # not the tests' own
                found.setdefault(sub.__name__, set()).add(cls.__name__)
                todo.append(sub)
    return found


def test_the_drawing_names_every_error_class_under_its_parent() -> None:
    drawn, classes = _drawn(), _classes()
    assert set(drawn) == set(classes)
    for name, parent in drawn.items():  # a class with two citygate parents is drawn under one
        assert (parent is None and not classes[name]) or parent in classes[name], name
