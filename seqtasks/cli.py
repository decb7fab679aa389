"""The ``seqtasks`` command line: parse, call the library, turn errors into one line."""

import functools
import os
import sys

import click

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _quiet_tensorflow_import():
    """Import TensorFlow and find its devices with their start-up log lines hidden.

    TensorFlow writes them before its logging is configured, so TF_CPP_MIN_LOG_LEVEL cannot;
    the lines it writes later that a user cannot act on are filtered out of standard error
    (:mod:`seqtasks.quiet`).
    """
    from seqtasks.quiet import filter_stderr

    filter_stderr()
    if "tensorflow" in sys.modules:
        return
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            import keras  # noqa: F401
            import tensorflow as tf

            tf.config.list_physical_devices()  # on CPU-only machines this logs a cuInit failure
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _friendly(command):
    """Run a command body, reporting seqtasks errors as one line and exit status 1."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        from seqtasks import errors
        from seqtasks.errors import SeqtasksError

        caller, errors.CALLER = errors.CALLER, "cli"  # errors name the command line's flags
        try:
            return command(*args, **kwargs)
        except SeqtasksError as e:
            raise click.ClickException(str(e)) from None
        finally:
            errors.CALLER = caller

    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="seqtasks")
def main():
    """seqtasks: sequence tasks with an Elman recurrent network.

    Train a recipe on built-in data:  seqtasks run smart_reply
    """


@main.command("list")
def list_command():
    """List the recipes."""
    from seqtasks.recipes import list_recipes

    for name, recipe in list_recipes().items():
        click.echo(f"{name:16} {recipe.description}")


@main.command()
@click.argument("recipe")
@click.option("--set", "overrides", multiple=True, metavar="SECTION.KEY=VALUE",
              help="Override one configuration key (repeatable).")
@_friendly
def show(recipe, overrides):
    """Print the fully resolved configuration of RECIPE (a name or a .toml file)."""
    from seqtasks import config as config_lib

    recipe_cls, config = config_lib.load_config(recipe, overrides)
    click.echo(config_lib.to_toml(config, recipe_cls.name, recipe_cls.schema()), nl=False)


@main.command()
@click.argument("recipe")
@click.option("--set", "overrides", multiple=True, metavar="SECTION.KEY=VALUE",
              help="Override one configuration key (repeatable).")
@click.option("--output", "-o", type=click.Path(file_okay=False),
              help="Run directory (default runs/<recipe>-<timestamp>); reuse it to resume.")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(min=1),
              help="Train with a multi_worker cluster of this many processes on this machine.")
@_friendly
def run(recipe, overrides, output, workers):
    """Train RECIPE (a name or a .toml file), evaluate on the test split and export."""
    from seqtasks import config as config_lib

    recipe_cls, _ = config_lib.load_config(recipe, overrides)  # errors before importing TF
    if workers > 1:
        from seqtasks.files import new_run_dir
        from seqtasks.launch import launch

        output = output or new_run_dir(recipe_cls.name)
        launch(recipe, overrides, output, workers, echo=click.echo)
        return
    _quiet_tensorflow_import()
    from seqtasks.runner import run as run_recipe

    result = run_recipe(recipe, overrides, output, echo=click.echo)
    click.echo(f"run directory: {result.run_dir}")


@main.command()
@click.argument("recipe")
@click.option("--cells", default="elman,lstm,gru", show_default=True,
              help="Comma-separated recurrent cells to train.")
@click.option("--set", "overrides", multiple=True, metavar="SECTION.KEY=VALUE",
              help="Override one configuration key for every cell (repeatable).")
@click.option("--output", "-o", type=click.Path(file_okay=False),
              help="Directory of the comparison (default runs/compare-<recipe>-<timestamp>).")
@_friendly
def compare(recipe, cells, overrides, output):
    """Train RECIPE once per cell on the same data and seed; print a table of test metrics and
    training times (also written to the comparison directory)."""
    from seqtasks import config as config_lib
    from seqtasks.compare import parse_cells

    config_lib.load_config(recipe, overrides)  # report config errors before importing TF
    names = parse_cells(cells)
    _quiet_tensorflow_import()
    from seqtasks.compare import compare as run_comparison

    run_comparison(recipe, names, overrides, output, echo=click.echo)


@main.command()
@click.argument("target")
@click.option("--cells", default="elman,lstm", show_default=True,
              help="Comma-separated recurrent cells to profile.")
@click.option("--epochs", default=0, show_default=True, type=click.IntRange(min=0),
              help="Train each cell this many epochs first (0: as initialised).")
@click.option("--set", "overrides", multiple=True, metavar="SECTION.KEY=VALUE",
              help="Override one configuration key, e.g. data.window=100 (repeatable).")
@click.option("--output", "-o", type=click.Path(file_okay=False),
              help="Where diagnose.png and diagnose.json go (default: the run directory, or "
                   "runs/diagnose-<recipe>-<timestamp>).")
@_friendly
def diagnose(target, cells, epochs, overrides, output):
    """Show the vanishing gradient: how much the loss at the last step depends on each earlier
    input step, per cell. TARGET is a recipe, a .toml file or a run directory."""
    from seqtasks.compare import parse_cells

    names = parse_cells(cells)
    _quiet_tensorflow_import()
    from seqtasks.diagnose import diagnose as run_diagnosis

    run_diagnosis(target, names, overrides, output, epochs, echo=click.echo)


@main.command()
@click.argument("export_dir", type=click.Path())
@click.option("--prompt", default="", help="Text the generated text continues.")
@click.option("--length", type=int, default=200, show_default=True,
              help="Tokens (characters or words) to generate.")
@click.option("--temperature", type=float, help="Sampling temperature; 0 is greedy "
              "(default: the export's).")
@click.option("--top-k", "top_k", type=int, help="Sample among the k most probable tokens; 0: "
              "all (default: the export's).")
@click.option("--seed", type=int, help="Seed of the sampling (default: the export's).")
@_friendly
def generate(export_dir, prompt, length, temperature, top_k, seed):
    """Generate text with a language_model export, continuing --prompt."""
    from seqtasks.export import ExportError, read_metadata, resolve_export
    from seqtasks.generation import check_generation

    version = resolve_export(export_dir)
    metadata = read_metadata(version)
    if metadata.get("recipe") != "language_model":
        raise ExportError(f"{version}: a {metadata.get('recipe')} export; generate needs a "
                          "language_model export")
    options = check_generation(metadata, prompt, length, temperature, top_k, seed)
    _quiet_tensorflow_import()
    import tensorflow as tf

    from seqtasks.export import load_signature

    signature = load_signature(version, "generate")
    out = signature(prompt=tf.constant([prompt]), length=tf.constant(length),
                    temperature=tf.constant(options["temperature"], tf.float32),
                    top_k=tf.constant(options["top_k"]), seed=tf.constant(options["seed"]))
    click.echo(out["text"].numpy()[0].decode("utf-8"))


@main.command()
@click.argument("export_dir", type=click.Path())
@click.argument("inputs", nargs=-1)
@click.option("--input", "-i", "input_path", type=click.Path(dir_okay=False),
              help="A file of inputs in one of the recipe's formats (read streaming).")
@click.option("--output", "-o", "output_path", type=click.Path(dir_okay=False),
              help="With --input: write one JSON object per input here (.jsonl), whole or not "
                   "at all; default: standard output.")
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False),
              help="forecasting: forecast from the last window of this CSV series.")
@click.option("--set", "overrides", multiple=True, metavar="data.KEY=VALUE",
              help="How --input is read, e.g. data.text_column=message (repeatable).")
@click.option("--batch-size", default=64, show_default=True, type=click.IntRange(min=1),
              help="Inputs per call of the signature.")
@_friendly
def predict(export_dir, inputs, input_path, output_path, csv_path, overrides, batch_size):
    """Run an export on INPUTS (texts, or image files for captioning), on the lines of standard
    input when none are given, or on a whole file with --input."""
    from seqtasks import deployed
    from seqtasks.signatures import call_signature, columns

    if input_path is not None or output_path is not None:
        if input_path is None:
            raise click.UsageError("--output needs --input")
        _quiet_tensorflow_import()
        lines = deployed.predict_file(export_dir, input_path, output_path, overrides,
                                      batch_size, progress=sys.stderr.isatty())
        if output_path is None:
            for line in lines:
                click.echo(line)
        else:
            click.echo(f"wrote: {output_path} ({lines} predictions)", err=True)
        return
    version = deployed.export_lib.resolve_export(export_dir)
    task, metadata = deployed.load_task(version, overrides)
    if csv_path is not None:
        values = [raw for _, raw in task.reader.prediction_inputs(csv_path)][-1:]
    else:
        if not inputs:
            inputs = [line.rstrip("\n") for line in sys.stdin]
        # unreadable inputs fail before TensorFlow loads
        values = [{metadata["input"]: value} for value in task.reader.read_inputs(inputs)]
    _quiet_tensorflow_import()
    signature = deployed.load_signatures(version)["serving_default"]
    for start in range(0, len(values), batch_size):
        batch = values[start:start + batch_size]
        outputs = call_signature(signature, columns(batch), csv_path or "the inputs")
        shown = [raw[metadata["input"]] for raw in batch]
        for line in task.reader.format_prediction(shown, outputs):
            click.echo(line)


@main.command()
@click.argument("path", type=click.Path())
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; anything but a loopback address exposes the models.")
@click.option("--port", default=8501, show_default=True, help="Port (TF Serving's REST port).")
@click.option("--name", default=None,
              help="Serve only this model; for one model's folder, the name to serve it under.")
@click.option("--max-batch-size", default=16, show_default=True,
              help="Most examples batched into one model call.")
@click.option("--batch-timeout-ms", default=2.0, show_default=True,
              help="How long a batch waits for more requests.")
@click.option("--batching/--no-batching", default=True, show_default=True,
              help="Batch concurrent requests.")
@click.option("--poll-seconds", default=1.0, show_default=True,
              help="How often to look for new versions (0: never).")
@click.option("--max-instances", default=256, show_default=True,
              help="Most examples in one request.")
@click.option("--max-body-mb", default=10.0, show_default=True,
              help="Largest request body, in MiB.")
@click.option("--max-text-chars", default=20000, show_default=True,
              help="Longest text input, in characters.")
@_friendly
def serve(path, host, port, name, max_batch_size, batch_timeout_ms, batching, poll_seconds,
          max_instances, max_body_mb, max_text_chars):
    """Serve the exports under PATH (an export.dir, or export.dir/<recipe>) with TF Serving's
    REST API, and a page to try them at http://HOST:PORT/. The newest version of each model is
    served, and a new version is picked up when it appears."""
    _quiet_tensorflow_import()
    from seqtasks.serving.server import serve as run_server
    from seqtasks.serving.tfjson import Limits

    limits = Limits(max_body_bytes=int(max_body_mb * 2**20), max_instances=max_instances,
                    max_text_chars=max_text_chars)
    run_server(path, host, port, name, max_batch_size, batch_timeout_ms, batching,
               poll_seconds, limits, echo=click.echo)


@main.command()
@click.argument("target", type=click.Path())
@click.option("--data", "data", required=True,
              help="The file to score, in one of the recipe's formats (or tfds:<name>:<split>).")
@click.option("--set", "overrides", multiple=True, metavar="data.KEY=VALUE",
              help="How the file is read, e.g. data.label_column=intent (repeatable).")
@click.option("--output", "-o", type=click.Path(file_okay=False),
              help="Where metrics.json, config.toml and the plots go (default "
                   "runs/evaluate-<recipe>-<timestamp>).")
@_friendly
def evaluate(target, data, overrides, output):
    """Score a file with the exported SavedModel of TARGET (a run directory or an export), with
    the recipe's metrics and baselines, exactly as the run scored its test split."""
    _quiet_tensorflow_import()
    from seqtasks import deployed

    deployed.evaluate(target, data, overrides, output, echo=click.echo)
