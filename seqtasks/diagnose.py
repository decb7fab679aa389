"""``seqtasks diagnose``: how much the loss at the last step depends on each earlier step.

For each cell, the gradient of the loss (computed from the network's output after the last
step) with respect to the input at every time step, its norm averaged over a batch of training
sequences. An Elman network's gradients shrink roughly geometrically with the distance from the
last step (backpropagation through time multiplies by the recurrent Jacobian at every step):
the vanishing gradient. An LSTM's cell state carries them much further.

A recipe takes part by implementing ``Recipe.diagnostic(model, datasets)`` ->
``(forward, inputs, targets)``: float inputs ``[batch, steps, features]`` (forecasting: the
values themselves; language_model: the embedded tokens) and the function from them to the
prediction after the last step.
"""

from pathlib import Path

from seqtasks import config as config_lib
from seqtasks.errors import ConfigError
from seqtasks.files import new_run_dir, write_json


def step_gradient_norms(model, inputs, targets, loss):
    """``[steps]``: mean over the batch of ``||d loss_b / d inputs[b, t]||``, each example's
    gradient of its own loss (``loss`` returns one value per example); ``model`` is a Keras
    model or any ``forward(inputs, training=False)``."""
    import tensorflow as tf

    x = tf.convert_to_tensor(inputs, tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(x)
        value = tf.reduce_sum(loss(targets, model(x, training=False)))
    gradient = tape.gradient(value, x)
    return tf.reduce_mean(tf.norm(gradient, axis=-1), axis=0).numpy()


def _distances(steps):
    picks, d = [], 1
    while d <= steps:
        picks.append(d)
        d = d * 2 if d < 8 else d + (10 if d < 50 else 50)
    return picks


def diagnose(target, cells=("elman", "lstm"), overrides=(), output=None, epochs=0, echo=print):
    """Gradient profiles of ``cells`` on the data of ``target`` (a recipe, a TOML file, or a
    run directory, whose trained model is profiled too). Returns ``{label: [norm per step]}``
    (index 0 = the first step) and the output directory."""
    import keras

    from seqtasks.plots import line_plot
    from seqtasks.recipes.base import Recipe
    from seqtasks.training import per_example_loss

    run_dir = Path(target) if Path(target).is_dir() else None
    if run_dir is not None:
        if not (run_dir / "config.toml").exists():
            raise ConfigError(f"{run_dir}: not a run directory (no config.toml)")
        recipe_cls, config = config_lib.load_config(run_dir / "config.toml", overrides)
    else:
        recipe_cls, config = config_lib.load_config(target, overrides)
    if recipe_cls.diagnostic is Recipe.diagnostic:
        raise ConfigError(f"diagnose: the {recipe_cls.name} recipe has no diagnostic; "
                          "use forecasting or language_model")
    output = Path(output) if output else (
        run_dir if run_dir is not None else
        new_run_dir(f"diagnose-{recipe_cls.name}"))
    seed = config["train"]["seed"]
    profiles = {}
    for cell in cells:
        keras.utils.set_random_seed(seed)
        task = recipe_cls(_with_cell(config, cell))
        datasets = task.build_datasets()
        model = task.build_model()
        if epochs:
            model.fit(datasets["train"], epochs=epochs, verbose=0, shuffle=False,
                      callbacks=task.callbacks())
        label = f"{cell} ({epochs} epochs)" if epochs else f"{cell} (initialised)"
        profiles[label] = step_gradient_norms(*task.diagnostic(model, datasets),
                                              per_example_loss(model.loss))
    if run_dir is not None and (run_dir / "model.keras").exists():
        task = recipe_cls(config)
        datasets = task.build_datasets()
        model = keras.models.load_model(run_dir / "model.keras")
        profiles[f"{config['model']['cell']} (trained run)"] = step_gradient_norms(
            *task.diagnostic(model, datasets), per_example_loss(model.loss))
    steps = len(next(iter(profiles.values())))
    header = "  steps back " + "".join(f"{label:>24}" for label in profiles)
    echo(header)
    for d in _distances(steps):
        echo(f"  {d:10d} " + "".join(f"{float(p[steps - d]):24.3e}" for p in profiles.values()))
    for label, p in profiles.items():
        ratio = float(p[0]) / max(float(p[-1]), 1e-30)
        echo(f"  {label}: gradient at {steps} steps back / at 1 step back = {ratio:.3e}")
    back = list(range(steps, 0, -1))
    plot = line_plot(output / "diagnose.png", back, {k: list(v) for k, v in profiles.items()},
                     title=f"{recipe_cls.name}: gradient of the last step's loss w.r.t. each "
                     "input step", xlabel="steps back from the last step",
                     ylabel="mean gradient norm", logy=True)
    write_json(output / "diagnose.json",
               {"recipe": recipe_cls.name, "epochs": epochs,
                "profiles": {k: [float(x) for x in v] for k, v in profiles.items()}})
    echo(f"wrote: {plot}")
    return profiles, output


def _with_cell(config, cell):
    import copy

    config = copy.deepcopy(config)
    config["model"]["cell"] = cell
    return config
