"""translation's TranslationPreprocessor: source ids, teacher-forcing ids, left-out pairs,
character level and vocabulary limits (moved from tests/recipes/test_translation.py)."""

import numpy as np
import pytest
from tiny_data import tiny_translation, write_tsv

import seqtasks
from seqtasks.recipes.translation import builtin as builtin


def task_for(*overrides):
    recipe = seqtasks.get_recipe("translation")
    return recipe(recipe.default_config(tiny_translation(*overrides)))


def test_character_level_and_vocabulary_limits(tmp_path):
    import tensorflow as tf

    train = write_tsv(tmp_path / "train.tsv", builtin.generate(600, seed=1))
    task = task_for(f"data.train={train}", "data.source_tokenizer=char",
                    "data.target_tokenizer=char", "data.max_tokens=20", "decode.strategy=greedy")
    task.build_datasets()
    # 20 = padding + unknown (+ start + end on the target side) + the most frequent characters
    assert task.summary["vocabulary"] == {"source": 20, "target": 20}
    tokens = task.preprocessor.source_tokenize(tf.constant(["ab c."]))
    assert [t.decode() for t in tokens.numpy()[0]] == ["a", "b", "\u2581", "c", "\u2581", "."]
    # the in-memory serving_default of an untrained model: no word-boundary mark in its output
    model = task.build_model()
    signature = task.endpoints(task.inference_model(model))["serving_default"]
    translation = signature(text=np.array(["the dog sees two birds ."], dtype=object))
    assert "\u2581" not in translation["translation"].numpy()[0].decode()


def test_teacher_forcing_ids_and_left_out_pairs(tmp_path):
    import tensorflow as tf

    from seqtasks.recipes.base import Example
    from seqtasks.recipes.translation.preprocessor import TranslationPreprocessor

    p = TranslationPreprocessor(source_vocabulary=["a", "dog"], target_vocabulary=["xo", "ya"])
    assert p({"text": tf.constant(["A cat", ""])}).numpy().tolist() == [[2, 1], [0, 0]]
    target_in, target_out = p.teacher_forcing(tf.constant(["ya xo zz", "xo", ""]))
    assert target_in.numpy().tolist() == [[2, 5, 4, 1], [2, 4, 0, 0], [2, 0, 0, 0]]
    assert target_out.numpy().tolist() == [[5, 4, 1, 3], [4, 3, 0, 0], [3, 0, 0, 0]]
    assert (p.source_vocabulary_size, p.target_vocabulary_size) == (4, 6)
    train = write_tsv(tmp_path / "t.tsv", [("a b c", "x"), ("a", "x y z"), ("a b", "x y")] * 5)
    held_out = write_tsv(tmp_path / "held_out.tsv", [("a b", "x y")])
    task = task_for(f"data.train={train}", f"data.validation={held_out}",
                    f"data.test={held_out}", "data.max_length=2")
    datasets = task.build_datasets()
    assert task.summary["left_out_too_long"] == 10 and task.summary["examples"]["train"] == 5
    trained = [x[0].numpy() for x, *_ in datasets["train"]]  # the long pairs are left out
    assert sum(len(ids) for ids in trained) == 5 and all(ids.shape[1] <= 2 for ids in trained)
    assert task.summary["vocabulary"] == {"source": 4, "target": 6}  # a b / x y
    with pytest.raises(seqtasks.errors.DataError,
                       match="h.tsv:1: the source sentence ' ' has no tokens"):
        TranslationPreprocessor().check([Example("a", "x", "ok"), Example(" ", "x", "h.tsv:1")])
