"""The API reference is the docstrings: every public name of `livevec`, the pytidb layer and the web app (and
every public method of a public class) has a summary, and a `Parameters:` section when it takes
parameters, `Returns:` when it returns something, `Raises:` when its body raises.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import re
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import livevec
import livevec.compat.pytidb as pytidb
import livevec.web as web

_SECTION = re.compile(r"^(Parameters|Args|Attributes|Returns|Yields|Raises):\s*$", re.M)


def _public_names() -> Iterator[tuple[str, object]]:
    for module, prefix in ((livevec, "livevec"), (pytidb, "livevec.compat.pytidb"), (web, "livevec.web")):
        for name in module.__all__:
            value = getattr(module, name)
            yield f"{prefix}.{name}", value
            if inspect.isclass(value):
                for member, attr in vars(value).items():
                    if member.startswith("_") or isinstance(attr, property):
                        continue
                    func = attr.__func__ if isinstance(attr, (classmethod, staticmethod)) else attr
                    if inspect.isfunction(func):
                        yield f"{prefix}.{name}.{member}", func


def _parameters(func: Callable) -> list[str]:
    try:
        signature = inspect.signature(func)
    except (TypeError, ValueError):
        return []
    return [
        name
        for name, param in signature.parameters.items()
        if name not in ("self", "cls")
        and not name.startswith("_")
        and param.kind not in (param.VAR_POSITIONAL, param.VAR_KEYWORD)
    ]


def _returns(func: Callable) -> bool:
    annotation = inspect.signature(func).return_annotation
    if annotation is inspect.Signature.empty:
        return False
    text = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", str(annotation))
    return text not in ("None", "NoReturn", "Never")


def _raises(func: Callable) -> bool:
    """Its own body (not a nested function's) raises an exception by name."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(func)))
    except (OSError, TypeError, SyntaxError):
        return False
    (definition,) = tree.body

    def walk(node: ast.AST) -> Iterator[ast.AST]:
        for child in ast.iter_child_nodes(node):
            if not isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
                yield child
                yield from walk(child)

    return any(isinstance(node, ast.Raise) and node.exc is not None for node in walk(definition))


def _is_record(cls: type) -> bool:
    """A dataclass or a pydantic model: its constructor's parameters are its fields."""
    return dataclasses.is_dataclass(cls) or hasattr(cls, "model_fields")


def _problems(value: object) -> list[str]:
    doc = inspect.getdoc(value) if not inspect.isclass(value) else value.__doc__
    if not doc or not doc.strip():
        return ["no docstring"]
    doc = inspect.cleandoc(doc)
    sections = set(_SECTION.findall(doc))
    problems = []
    if _SECTION.match(doc.strip().splitlines()[0]):
        problems.append("no summary")
    if inspect.isclass(value):
        # a class documents its constructor's parameters (its own, not an inherited one)
        init = vars(value).get("__init__")
        own = init is not None and inspect.isfunction(init)
        if dataclasses.is_dataclass(value) or own:
            params = _parameters(init if own else value)
            init_doc = (init.__doc__ or "") if own else ""
            sections |= set(_SECTION.findall(inspect.cleandoc(init_doc))) if init_doc else set()
            # a record's fields may be documented as its attributes
            documented = {"Parameters", "Args", "Attributes"} if _is_record(value) else {"Parameters", "Args"}
            if params and not sections & documented:
                problems.append("no Parameters section")
        return problems
    if _parameters(value) and not sections & {"Parameters", "Args"}:
        problems.append("no Parameters section")
    if _returns(value) and not sections & {"Returns", "Yields"}:
        problems.append("no Returns section")
    if _raises(value) and "Raises" not in sections:
        problems.append("no Raises section")
    return problems


NAMES = dict(_public_names())


def test_every_public_name_has_a_complete_docstring():
    missing = {name: problems for name, value in NAMES.items() if (problems := _problems(value))}
    assert not missing, "\n".join(f"{name}: {', '.join(p)}" for name, p in sorted(missing.items()))


@pytest.mark.parametrize("module", [livevec, pytidb, web], ids=["livevec", "pytidb", "web"])
def test_the_reference_page_shows_every_public_name(module):
    page = {
        "livevec": "python.md",
        "livevec.compat.pytidb": "compat.md",
        "livevec.web": "web.md",
    }[module.__name__]
    text = (Path(__file__).resolve().parent.parent / "docs" / "reference" / page).read_text(encoding="utf-8")
    shown = set(re.findall(rf"^::: {re.escape(module.__name__)}\.(\w+)$", text, re.M))
    assert shown == set(module.__all__)
