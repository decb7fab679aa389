"""seqtasks: sequence tasks with an Elman recurrent network.

The Python API mirrors the command line:

- :func:`run` trains, evaluates and exports a recipe (``seqtasks run``);
- :func:`load` loads an export for :meth:`~seqtasks.deployed.Deployed.predict` and
  :meth:`~seqtasks.deployed.Deployed.evaluate` (``seqtasks predict`` / ``evaluate``);
- :func:`list_recipes`, :func:`get_recipe` and :func:`load_config` give the recipes and their
  resolved configurations (``seqtasks list`` / ``show``);
- :mod:`seqtasks.layers` holds the Keras layers (``ElmanCell``, ``ElmanRNN``, the decoders).

Example:
```python
import seqtasks

result = seqtasks.run("smart_reply", {"train.epochs": 3}, output="runs/demo")
model = seqtasks.load(result.export_dir)
model.predict(["can you book a table for two?"])
```

``import seqtasks`` is cheap: TensorFlow is imported only when a layer, recipe or export is
used. The Keras classes of :mod:`seqtasks.layers` and the recipes' preprocessors are registered
for ``keras.models.load_model`` as soon as Keras is imported (before or after seqtasks).
"""

from seqtasks._registration import register_when_keras_loads

__version__ = "0.1.0"

__all__ = ["get_recipe", "layers", "list_recipes", "load", "load_config", "run"]


def run(recipe_or_path, overrides=(), output=None, extra_callbacks=(), echo=print,
        verbose=None):
    """Train, evaluate and export a recipe, as ``seqtasks run`` does; an interrupted run in
    ``output`` resumes. Returns a :class:`~seqtasks.runner.RunResult` (``run_dir``,
    ``metrics``, ``export_dir``).

    Args:
        recipe_or_path: A recipe name (``"smart_reply"``) or a TOML configuration file.
        overrides: ``section.key=value`` strings, one string, or a dict, flat
            (``{"train.epochs": 3}``) or nested (``{"train": {"epochs": 3}}``).
        output: The run directory (default: a new folder under ``runs/``).
        extra_callbacks: Keras callbacks added to training.
        echo: Where the progress lines go (``print``; ``lambda *_: None`` for none).
        verbose: Keras ``fit`` verbosity (default: a progress bar on a terminal).

    Training seeds Python's, NumPy's and TensorFlow's generators with ``train.seed``; their
    states (TensorFlow's global seed) are put back when ``run`` returns.
    """
    from seqtasks.runner import run as run_recipe

    return run_recipe(recipe_or_path, overrides, output, extra_callbacks, echo, verbose)


def load(target, overrides=()):
    """An export directory (a version, or the folder of versions: the newest) or a finished
    run directory, loaded as a :class:`~seqtasks.deployed.Deployed` with ``predict`` and
    ``evaluate``. ``overrides`` (``data.*`` keys) change how files are read."""
    from seqtasks.deployed import Deployed

    return Deployed(target, overrides)


def list_recipes():
    """``{name: recipe class}`` of every recipe, sorted by name."""
    from seqtasks.recipes import list_recipes as recipes

    return recipes()


def get_recipe(name):
    """The recipe class registered as ``name`` (an unknown name suggests the nearest)."""
    from seqtasks.recipes import get_recipe as recipe

    return recipe(name)


def load_config(recipe_or_path, overrides=()):
    """``(recipe class, configuration)`` of a recipe name or TOML file with ``overrides``
    (strings, one string or a dict), resolved and checked as ``seqtasks show`` shows it."""
    from seqtasks.config import load_config as resolve

    return resolve(recipe_or_path, overrides)


def __getattr__(name):
    # the layers and Deployed import TensorFlow: only when they are asked for
    if name == "layers":
        import importlib

        return importlib.import_module("seqtasks.layers")
    if name == "Deployed":
        from seqtasks.deployed import Deployed

        return Deployed
    raise AttributeError(f"module 'seqtasks' has no attribute {name!r}")


def __dir__():
    return sorted({*globals(), *__all__, "Deployed"})


register_when_keras_loads()
