"""The thin CLI: list, show, and staying fast (no TensorFlow import) for --help."""

import os
import subprocess
import sys
import tomllib

from helpers import cli

from seqtasks.recipes import get_recipe


def test_list_shows_every_recipe_with_its_description():
    result = cli("list")
    assert result.exit_code == 0
    assert "smart_reply" in result.output and "many-to-one" in result.output


def test_show_prints_the_resolved_configuration_as_toml():
    result = cli("show", "smart_reply", "--set", "train.epochs=4")
    assert result.exit_code == 0, result.output
    shown = tomllib.loads(result.output)
    expected = get_recipe("smart_reply").default_config(["train.epochs=4"])
    assert shown["recipe"] == "smart_reply"
    for section, values in expected.items():
        assert shown[section] == {k: v for k, v in values.items() if v is not None}


def _python(code):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_help_and_import_do_not_import_tensorflow():
    out = _python("import sys, seqtasks, seqtasks.cli\n"
                  "from click.testing import CliRunner\n"
                  "CliRunner().invoke(seqtasks.cli.main, ['--help'])\n"
                  "CliRunner().invoke(seqtasks.cli.main, ['list'])\n"
                  "print('tensorflow' in sys.modules, 'keras' in sys.modules)")
    assert out.split() == ["False", "False"]


def test_layers_are_registered_whichever_is_imported_first():
    for code in ("import seqtasks, keras", "import keras, seqtasks"):
        out = _python(code + "\nprint(keras.saving.get_registered_object('seqtasks>ElmanRNN'))")
        assert "ElmanRNN" in out, code
