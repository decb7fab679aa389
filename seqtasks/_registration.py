"""Register seqtasks' Keras classes whenever Keras is imported, without importing it ourselves.

``keras.models.load_model`` can only rebuild our layers once they are registered, which happens
when :mod:`seqtasks.layers` is imported. Importing it eagerly in ``seqtasks/__init__`` would make
every ``seqtasks`` command pay for importing TensorFlow (seconds), so instead: if Keras is already
imported we register now; otherwise a one-shot import hook registers right after Keras finishes
importing.
"""

import importlib.abc
import importlib.util
import sys


def _register():
    import importlib

    import seqtasks.layers  # noqa: F401  (the decorators register the classes)
    import seqtasks.losses  # noqa: F401  (a compiled model's loss)
    from seqtasks.recipes import recipe_packages

    for name in recipe_packages():  # each recipe's preprocessor layer
        importlib.import_module(f"seqtasks.recipes.{name}.preprocessor")


class _AfterKerasImport(importlib.abc.MetaPathFinder):
    """Finds nothing itself; wraps the real loader of ``keras`` to register afterwards.

    It stays in ``sys.meta_path`` until Keras is actually executed: a lookup that does not
    load it (``import tensorflow`` calls ``importlib.util.find_spec("keras")``) leaves the
    finder in place for the real import."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname != "keras" or self not in sys.meta_path:
            return None
        index = sys.meta_path.index(self)
        sys.meta_path.remove(self)  # let the real finders answer, without asking us again
        try:
            spec = importlib.util.find_spec("keras")
        finally:
            sys.meta_path.insert(index, self)
        if spec is None or spec.loader is None:
            return spec
        exec_module = spec.loader.exec_module

        def exec_then_register(module):
            if self in sys.meta_path:
                sys.meta_path.remove(self)
            exec_module(module)
            _register()

        spec.loader.exec_module = exec_then_register
        return spec


def register_when_keras_loads():
    if "keras" in sys.modules:
        _register()
    elif not any(isinstance(f, _AfterKerasImport) for f in sys.meta_path):
        sys.meta_path.insert(0, _AfterKerasImport())
