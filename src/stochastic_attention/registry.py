"""One plug-in registry shape for domains, method kinds and experiment kinds.

A :class:`Registry` maps a name to a plug-in object: built-ins are named by the module that
implements them and imported on first use (so listing the names never imports NumPy-heavy
or torch code); plug-ins register themselves with :meth:`Registry.add`, which checks the
name and the attributes the interface requires before anything runs. Each family keeps its
own extra checks (a method's ``CATEGORY``, an experiment kind's ``SCHEMA``) in the
``register_*`` function of its ``base`` module.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from importlib import import_module
from typing import Any

__all__ = ["NAME_PATTERN", "Registry"]

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")
"""What a plug-in's name may be: it becomes a config key, a path part and a rule name."""


class Registry:
    """Plug-ins of one family by name.

    what: the family in messages (``"domain"``, ``"method kind"``); key: the attribute that
    holds a plug-in's name (``"NAME"``, ``"KIND"``); builtin: name → module path of the
    built-ins; error: the exception an unknown name raises (a user error);
    load: turns a built-in's imported module into the registered object (default: the
    module itself).
    """

    def __init__(
        self,
        what: str,
        key: str,
        builtin: dict[str, str],
        error: type[Exception],
        load: Callable[[Any, str], Any] | None = None,
    ) -> None:
        self.what = what
        self.key = key
        self.builtin = builtin
        self.error = error
        self.load = load or (lambda module, name: module)
        self.entries: dict[str, Any] = {}

    def check(self, plugin: Any, required: Iterable[str], see: str) -> str:
        """The plug-in's name (attribute ``key``) after checking it and the ``required``
        attributes (``see``: the module whose docstring explains the interface)."""
        name = getattr(plugin, self.key, None)
        if not isinstance(name, str) or not NAME_PATTERN.match(name):
            raise ValueError(
                f"a {self.what} needs a {self.key} matching {NAME_PATTERN.pattern}, got {name!r}"
            )
        missing = [attribute for attribute in required if not hasattr(plugin, attribute)]
        if missing:
            raise ValueError(f"{self.what} {name!r} lacks {', '.join(missing)} (see {see})")
        return name

    def add(self, plugin: Any, required: Iterable[str], see: str) -> Any:
        """Register ``plugin`` under its checked name; returns it (so it can decorate)."""
        self.entries[self.check(plugin, required, see)] = plugin
        return plugin

    def names(self) -> list[str]:
        """Every known name: the built-ins and those registered by plug-ins, sorted."""
        return sorted(set(self.builtin) | set(self.entries))

    def get(self, name: str) -> Any:
        """The plug-in registered as ``name`` (a built-in is imported on first use)."""
        if name not in self.entries:
            if name not in self.builtin:
                known = ", ".join(self.names())
                raise self.error(f"unknown {self.what} {name!r}; known {self.what}s: {known}")
            self.entries[name] = self.load(import_module(self.builtin[name]), name)
        return self.entries[name]
