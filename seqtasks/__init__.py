"""seqtasks: sequence tasks with an Elman recurrent network.

``import seqtasks`` is cheap: TensorFlow is imported only when a layer, recipe or export is
used. The Keras classes of :mod:`seqtasks.layers` are registered for
``keras.models.load_model`` as soon as Keras is imported (before or after seqtasks).
"""

from seqtasks._registration import register_when_keras_loads

__version__ = "0.1.0"

__all__ = ["get_recipe", "list_recipes", "load_config", "run"]


def __getattr__(name):
    # Lazy public API, so that `import seqtasks` and `seqtasks --help` stay fast.
    if name in ("get_recipe", "list_recipes"):
        from seqtasks import recipes

        return getattr(recipes, name)
    if name == "load_config":
        from seqtasks.config import load_config

        return load_config
    if name == "run":
        from seqtasks.runner import run

        return run
    raise AttributeError(f"module 'seqtasks' has no attribute {name!r}")


register_when_keras_loads()
