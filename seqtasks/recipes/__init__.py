"""The recipe registry.

Each recipe is a package here (``<name>/``: ``recipe.py``, ``preprocessor.py``, its readers
in ``data.py`` and its built-in data in ``builtin.py``) whose class registers itself with
:func:`register`. Packages are found by name, so adding a recipe means adding one package
(see CONTRIBUTING.md); the shared machinery (:mod:`.base`, :mod:`.preprocessor`) sits beside
them.
"""

import difflib
import importlib
import pkgutil

from seqtasks.errors import ConfigError

_REGISTRY = {}
_discovered = False


def register(cls):
    """Class decorator: make a :class:`~seqtasks.recipes.base.Recipe` available by its name."""
    if cls.name in _REGISTRY and _REGISTRY[cls.name] is not cls:
        raise ValueError(f"recipe {cls.name!r} is registered twice")
    _REGISTRY[cls.name] = cls
    return cls


def _discover():
    global _discovered
    if not _discovered:
        for module in pkgutil.iter_modules(__path__):
            if module.ispkg:
                importlib.import_module(f"{__name__}.{module.name}")
        _discovered = True


def recipe_packages():
    """Names of the recipe packages (without importing them)."""
    return [m.name for m in pkgutil.iter_modules(__path__) if m.ispkg]


def list_recipes():
    """``{name: recipe class}`` of every registered recipe, sorted by name."""
    _discover()
    return dict(sorted(_REGISTRY.items()))


def get_recipe(name):
    """The recipe class registered as ``name``; an unknown name suggests the nearest."""
    recipes = list_recipes()
    if name not in recipes:
        close = difflib.get_close_matches(name, recipes, n=1, cutoff=0.4)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise ConfigError(
            f"unknown recipe '{name}'{hint}; available: {', '.join(recipes)}"
        )
    return recipes[name]
