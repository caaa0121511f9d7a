"""Every class in ``chat_server/handlers`` stays small enough to read in one sitting:
at most 12 public methods and 8 constructor parameters (issue 13). A class that
grows past that is split by responsibility, or its related arguments are grouped
into a small typed dataclass (``SessionPolicy``, ``SignOut``, ``ResetMail``).
Those records are not held to the parameter count: a dataclass's fields are its data
(a reported message as stamped has ten), not collaborators a class depends on.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from dataclasses import dataclass, is_dataclass
from types import ModuleType

import chat_server.handlers

MAX_PUBLIC_METHODS = 12
MAX_CONSTRUCTOR_PARAMETERS = 8


def _modules(package: ModuleType) -> list[ModuleType]:
    return [
        importlib.import_module(f"{package.__name__}.{info.name}")
        for info in pkgutil.iter_modules(package.__path__)
    ]


def _classes(module: ModuleType) -> list[type]:
    return [
        cls
        for _, cls in inspect.getmembers(module, inspect.isclass)
        if cls.__module__ == module.__name__
    ]


def public_methods(cls: type) -> list[str]:
    names: set[str] = set()
    for klass in cls.__mro__[:-1]:  # everything but object
        for name, value in vars(klass).items():
            if name.startswith("_"):
                continue
            if inspect.isfunction(value) or isinstance(
                value, (staticmethod, classmethod, property)
            ):
                names.add(name)
    return sorted(names)


def constructor_parameters(cls: type) -> list[str]:
    init = cls.__init__  # type: ignore[misc]
    if init is object.__init__ or is_dataclass(cls):
        return []
    return [name for name in inspect.signature(init).parameters if name != "self"]


def oversized(classes: list[type]) -> list[str]:
    found = []
    for cls in classes:
        methods, params = public_methods(cls), constructor_parameters(cls)
        if len(methods) > MAX_PUBLIC_METHODS or len(params) > MAX_CONSTRUCTOR_PARAMETERS:
            found.append(
                f"{cls.__module__}.{cls.__qualname__}: "
                f"{len(methods)} public methods, {len(params)} constructor parameters"
            )
    return found


def test_every_handler_class_is_small() -> None:
    classes = [cls for module in _modules(chat_server.handlers) for cls in _classes(module)]
    assert len(classes) > 10  # the walk found the handlers
    assert oversized(classes) == []


def test_the_measure_catches_a_large_class() -> None:
    # The limits are only worth something if the counting sees what it must.
    class Wide:
        def __init__(self, a: int, b: int, c: int, d: int, e: int, f: int, g: int, h: int) -> None:
            pass

        def one(self) -> None: ...
        def two(self) -> None: ...
        def three(self) -> None: ...
        def four(self) -> None: ...
        def five(self) -> None: ...
        def six(self) -> None: ...
        def seven(self) -> None: ...
        def eight(self) -> None: ...
        def nine(self) -> None: ...
        def ten(self) -> None: ...
        def eleven(self) -> None: ...

        @staticmethod
        def twelve() -> None: ...

        def _private(self) -> None: ...

    class Wider(Wide):
        def __init__(
            self, a: int, b: int, c: int, d: int, e: int, f: int, g: int, h: int, i: int
        ) -> None:
            pass

        async def thirteen(self) -> None: ...

    assert len(public_methods(Wide)) == 12
    assert len(constructor_parameters(Wide)) == 8
    assert oversized([Wide]) == []
    assert oversized([Wider]) == [
        f"{__name__}.test_the_measure_catches_a_large_class.<locals>.Wider: "
        "13 public methods, 9 constructor parameters"
    ]


def test_a_record_is_not_held_to_the_parameter_count() -> None:
    @dataclass(frozen=True)
    class Record:
        a: int
        b: int
        c: int
        d: int
        e: int
        f: int
        g: int
        h: int
        i: int

    assert constructor_parameters(Record) == []
    assert oversized([Record]) == []
