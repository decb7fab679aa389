"""Recipe-specific test data, each written once: tiny configurations per recipe, the data files
their tests write (a text stream, a Flickr8k layout, a CSV series, CoNLL-U, parallel TSV) and
the tiny tasks built on them. The module-scoped ``text_file`` and ``flickr`` fixtures built
with these are in tests/conftest.py."""

import numpy as np
from helpers import tiny

# ----- language_model -------------------------------------------------------------------------

LM_TINY = ["train.bptt=20", "train.batch_size=4", "model.units=16"]


def tiny_lm(*overrides, epochs=2):
    return tiny(*LM_TINY, *overrides, epochs=epochs)


def write_text_file(path):
    """One long text: 400 generated English sentences, one a line; returns ``path``."""
    from seqtasks.recipes.translation import builtin as translation

    path.write_text("\n".join(s for s, _ in translation.generate(400, seed=5)) + "\n")
    return path


def stateless_copy(task, model):
    """The reference: ``model``'s weights in a stateless network reading whole sequences;
    returns it and its ``(preprocessor, embedding, rnns, head)`` (rnns return their states)."""
    from seqtasks.generation import parts

    stateless = task.recurrent_network(stateful=False)
    stateless.set_weights(model.get_weights())
    return stateless, parts(stateless)


def lm_task(text_file, *overrides, seed=None, scale=0.3):
    """A tiny language_model task on ``text_file``, its datasets and its model (with random
    normal weights of ``scale`` when ``seed`` is given)."""
    import seqtasks

    recipe = seqtasks.get_recipe("language_model")
    task = recipe(recipe.default_config(tiny_lm(f"data.train={text_file}", *overrides)))
    datasets = task.build_datasets()
    model = task.build_model()
    if seed is not None:
        rng = np.random.default_rng(seed)
        model.set_weights([rng.normal(0, scale, w.shape).astype("float32")
                           for w in model.get_weights()])
    return task, datasets, model


# ----- captioning -----------------------------------------------------------------------------

CAPTIONING_TINY = ["model.units=16", "model.embedding_dim=8", "model.hidden_units=16",
                   "data.image_size=32", "data.min_count=1", "train.batch_size=16",
                   "decode.max_length=12"]


def tiny_captioning(*overrides, epochs=2):
    return tiny(*CAPTIONING_TINY, *overrides, epochs=epochs)


def encode(image, fmt):
    import tensorflow as tf

    return (tf.io.encode_png(image) if fmt == "png" else tf.io.encode_jpeg(image, quality=95)
            ).numpy()


def write_flickr(root, examples, name="captions.txt", first=0):
    """The Flickr8k layout: Images/ (PNG and JPEG) + captions.txt; returns the image names."""
    (root / "Images").mkdir(parents=True, exist_ok=True)
    names, rows = [], ["image,caption"]
    for i, (image, captions) in enumerate(examples, first):
        fmt = "png" if i % 2 else "jpeg"
        image_name = f"img{i}.{'png' if fmt == 'png' else 'jpg'}"
        (root / "Images" / image_name).write_bytes(encode(image, fmt))
        names.append(image_name)
        rows += [f"{image_name},{caption}" for caption in captions]
    with open(root / name, "a", encoding="utf-8") as f:
        f.write("\n".join(rows if first == 0 else rows[1:]) + "\n")
    return names


def write_flickr_layout(root):
    """The whole Flickr8k layout in ``root``: Images/ (img0.jpg, img1.png, ...), captions.txt,
    and the split lists train.txt (160 images, seed 1) and test.txt (24 images, seed 2), all
    32 x 32; returns ``root``."""
    from seqtasks.recipes.captioning import builtin

    train = write_flickr(root, builtin.generate(160, seed=1, size=32))
    test = write_flickr(root, builtin.generate(24, seed=2, size=32), first=160)
    (root / "train.txt").write_text("\n".join(train) + "\n")
    (root / "test.txt").write_text("\n".join(test) + "\n")
    return root


def flickr_overrides(root):
    return [f"data.train={root / 'captions.txt'}", f"data.train_images={root / 'train.txt'}",
            f"data.test={root / 'captions.txt'}", f"data.test_images={root / 'test.txt'}"]


def flickr_config(root, *overrides, epochs=2):
    return tiny("model.units=16", "model.hidden_units=16", "data.image_size=32", "data.min_count=1",
                "decode.max_length=12", f"data.train={root / 'captions.txt'}",
                f"data.train_images={root / 'train.txt'}", f"data.test={root / 'captions.txt'}",
                f"data.test_images={root / 'test.txt'}", *overrides, epochs=epochs)


# ----- forecasting ----------------------------------------------------------------------------

FORECASTING_TINY = ["data.window=14", "train.batch_size=64"]


def tiny_forecasting(*overrides, epochs=2):
    return [o for o in tiny(*FORECASTING_TINY, *overrides, epochs=epochs)
            if not o.startswith("model.embedding_dim")]  # nothing is embedded


def series_csv(path, days=3 * 365, seed=1, drop=()):
    from seqtasks.recipes.forecasting import builtin

    dates, values = builtin.generate(days, seed)
    keep = [i for i in range(days) if i not in set(drop)]
    path.write_text(builtin.csv_text([dates[i] for i in keep], values[keep]))
    return path, dates, values


def forecasting_task(path, *overrides):
    """A tiny forecasting task on the CSV series at ``path``."""
    import seqtasks

    recipe = seqtasks.get_recipe("forecasting")
    return recipe(recipe.default_config(tiny_forecasting(f"data.train={path}", *overrides)))


# ----- tagging --------------------------------------------------------------------------------

TAGGING_TINY = ["model.char_embedding_dim=8", "model.char_units=8"]  # the character sizes


def write_conllu(path, sentences):
    """CoNLL-U with UPOS; one comment per sentence and a multiword token line to skip."""
    lines = []
    for n, (tokens, upos, _) in enumerate(sentences):
        lines += [f"# sent_id = {n}", f"# text = {' '.join(tokens)}"]
        if n % 7 == 0:
            lines.append(f"1-2\t{tokens[0]}{tokens[1]}\t_\t_\t_\t_\t_\t_\t_\t_")
        for i, (token, tag) in enumerate(zip(tokens, upos), 1):
            lines.append(f"{i}\t{token}\t{token.lower()}\t{tag}\tX{tag}\t_\t0\tdep\t_\t_")
        lines.append("")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# ----- translation ----------------------------------------------------------------------------

TRANSLATION_TINY = ["model.units=16", "model.embedding_dim=8", "model.hidden_units=16",
                    "train.batch_size=32", "decode.max_length=30"]


def tiny_translation(*overrides, epochs=2):
    return tiny(*TRANSLATION_TINY, *overrides, epochs=epochs)


def write_tsv(path, pairs):
    """Tatoeba's layout: source, target and attribution, tab-separated; returns ``path``."""
    path.write_text("".join(f"{s}\t{t}\tCC-BY 2.0\n" for s, t in pairs), encoding="utf-8")
    return path
