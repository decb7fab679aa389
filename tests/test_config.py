from pathlib import Path

import pytest

from seqtasks import config as config_lib
from seqtasks.errors import ConfigError
from seqtasks.recipes import get_recipe, list_recipes

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("path", sorted((ROOT / "recipes").glob("*.toml")), ids=lambda p: p.name)
def test_every_shipped_recipe_file_validates(path):
    recipe, config = config_lib.load_config(path)
    assert recipe.name == path.stem
    assert set(config) == set(recipe.schema()) >= set(config_lib.SECTIONS)


def test_every_registered_recipe_has_a_toml_file():
    for name in list_recipes():
        assert (ROOT / "recipes" / f"{name}.toml").exists(), name


def test_defaults_come_from_code_and_files_only_override(tmp_path):
    path = tmp_path / "r.toml"
    path.write_text('recipe = "smart_reply"\n[train]\nepochs = 2\n')
    _, config = config_lib.load_config(path, ["model.units=16"])
    assert config["train"]["epochs"] == 2
    assert config["model"]["units"] == 16
    assert config["train"]["batch_size"] == config_lib.COMMON["train"]["batch_size"].default


def test_unknown_key_suggests_nearest(tmp_path):
    path = tmp_path / "r.toml"
    path.write_text('recipe = "smart_reply"\n[model]\nunit = 16\n')
    with pytest.raises(ConfigError, match=r"unknown key 'model.unit' \(did you mean 'units'\?\)"):
        config_lib.load_config(path)


def test_key_in_wrong_section_suggests_the_right_one():
    with pytest.raises(ConfigError, match="did you mean 'train.epochs'"):
        config_lib.load_config("smart_reply", ["model.epochs=3"])


def test_wrong_type_names_key_and_expected_type():
    with pytest.raises(ConfigError, match=r"train.epochs: expected an integer, found str 'ten'"):
        config_lib.load_config("smart_reply", ["train.epochs=ten"])
    with pytest.raises(ConfigError, match="model.bidirectional: expected true or false"):
        config_lib.load_config("smart_reply", ["model.bidirectional=1"])


def test_integer_accepted_for_float_and_choices_checked():
    _, config = config_lib.load_config("smart_reply", ["train.learning_rate=1"])
    assert config["train"]["learning_rate"] == 1.0
    with pytest.raises(ConfigError, match="did you mean 'lstm'"):
        config_lib.load_config("smart_reply", ["model.cell=lstn"])


def test_unknown_recipe_suggests_nearest():
    with pytest.raises(ConfigError,
                       match="unknown recipe 'smart_replies' \\(did you mean 'smart_reply'"):
        get_recipe("smart_replies")


def test_toml_round_trip(tmp_path):
    recipe, config = config_lib.load_config("smart_reply", ["data.train=a.csv", "train.epochs=4"])
    path = tmp_path / "resolved.toml"
    path.write_text(config_lib.to_toml(config, recipe.name, recipe.schema()))
    assert config_lib.load_config(path)[1] == config


def test_bad_toml_and_bad_set():
    with pytest.raises(ConfigError, match="expected section.key=value"):
        config_lib.parse_override("epochs=3")
    with pytest.raises(ConfigError, match="no such configuration file"):
        config_lib.load_config("missing.toml")


def test_a_variant_changes_only_the_defaults_of_its_condition(tmp_path):
    """Word-level (and subword) language models get their own defaults; what a file or --set
    gives wins, and character-level defaults stay as they were."""
    recipe = get_recipe("language_model")
    char = recipe.default_config()
    word = recipe.default_config(["data.tokenizer=word"])
    changed = {(s, k) for s in char for k in char[s] if char[s][k] != word[s][k]}
    variant, subword = recipe.variants
    assert subword.defaults == variant.defaults and subword.when == ("data", "tokenizer",
                                                                     "subword")
    assert changed == {("data", "tokenizer")} | {(s, k) for s, keys in variant.defaults.items()
                                             for k in keys}
    assert word["train"]["bptt"] == 35 and char["train"]["bptt"] == 100
    path = tmp_path / "lm.toml"
    path.write_text('recipe = "language_model"\n[data]\ntokenizer = "word"\n[train]\nbptt = 50\n')
    _, config = config_lib.load_config(path, ["model.dropout=0.1"])
    assert config["train"]["bptt"] == 50 and config["model"]["dropout"] == 0.1
    assert config["model"]["embedding_dim"] == word["model"]["embedding_dim"]
    # every variant default is a valid value of its key
    schema = recipe.schema()
    for section, keys in variant.defaults.items():
        for name, value in keys.items():
            config_lib.apply({section: {}}, schema, section, name, value, "variant")


@pytest.mark.parametrize("recipe, item, why", [
    ("captioning", "model.layers=2", "the caption decoder is one recurrent layer"),
    ("captioning", "model.bidirectional=true", "generated left to right"),
    ("captioning", "train.bucketing=false", "batched with all its captions"),
    ("language_model", "model.bidirectional=true", "reads left to right"),
    ("language_model", "train.bucketing=false", "windows of train.bptt tokens"),
    ("forecasting", "model.embedding_dim=16", "not embedded"),
    ("forecasting", "train.bucketing=false", "data.window steps"),
])
def test_a_common_key_a_recipe_cannot_honour_is_an_error_saying_why(recipe, item, why):
    section, name = item.split("=")[0].split(".")
    with pytest.raises(ConfigError, match=rf"overrides: {section}.{name}: this recipe has no such "
                                          rf"key \(.*{why}"):
        config_lib.load_config(recipe, [item])
    assert name not in get_recipe(recipe).schema()[section]
    assert f"{name} =" not in config_lib.to_toml(get_recipe(recipe).default_config(), recipe)


def test_a_saved_configuration_with_the_value_a_recipe_always_uses_still_loads(tmp_path):
    """Configurations written before a key was removed (runs, exports) hold its default."""
    path = tmp_path / "config.toml"
    path.write_text('recipe = "captioning"\n[model]\nlayers = 1\nbidirectional = false\n'
                    '[train]\nbucketing = true\n')
    _, config = config_lib.load_config(path)
    assert "layers" not in config["model"] and "bucketing" not in config["train"]
    with pytest.raises(ConfigError, match=r"config.toml: model.layers: this recipe has no such"):
        path.write_text('recipe = "captioning"\n[model]\nlayers = 3\n')
        config_lib.load_config(path)


@pytest.mark.parametrize("overrides", [
    "train.epochs=3", ["train.epochs=3"], {"train.epochs": 3}, {"train": {"epochs": 3}}])
def test_overrides_are_a_string_a_list_or_a_dict(overrides):
    _, config = config_lib.load_config("smart_reply", overrides)
    assert config["train"]["epochs"] == 3


def test_errors_name_the_python_argument_in_a_library_call_and_the_flag_on_the_command_line(
        tmp_path):
    from helpers import cli

    with pytest.raises(ConfigError, match=r"^overrides 'epochs': expected section.key=value"):
        config_lib.load_config("smart_reply", ["epochs"])
    with pytest.raises(ConfigError, match=r"^overrides: train.epochs: expected an integer"):
        config_lib.load_config("smart_reply", {"train": {"epochs": "many"}})
    result = cli("run", "smart_reply", "--set", "epochs", "--output", tmp_path / "run")
    assert result.output.strip().endswith(
        "Error: --set 'epochs': expected section.key=value, e.g. train.epochs=5")

