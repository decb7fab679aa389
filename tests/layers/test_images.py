"""Image decoding inside the graph, against the pixels that were encoded; augmentation; the image
encoders, their weights from a file (frozen, or refused when unreadable) in a captioning run;
and the captioning model's probabilities, which padding does not change."""

import itertools

import numpy as np
import pytest
import tensorflow as tf
from helpers import assert_clean_failure, run_expecting_failure, write
from tiny_data import flickr_overrides, tiny_captioning

from seqtasks.layers.images import IMAGE_ENCODERS, decode_image, decode_images
from seqtasks.recipes.captioning import builtin as builtin


def scene(size=32):
    return builtin.draw([("circle", "red", 0.3, 0.4, 0.15), ("square", "blue", 0.7, 0.6, 0.12)],
                        size)


def test_png_at_its_own_size_decodes_to_the_same_pixels():
    image = scene()
    png = tf.io.encode_png(image)
    np.testing.assert_array_equal(decode_image(png, 32).numpy(), image)


def test_jpeg_and_greyscale_and_rgba_become_rgb_of_the_requested_size():
    image = scene()
    jpeg = tf.io.encode_jpeg(image, quality=100)
    decoded = decode_image(jpeg, 32).numpy()
    assert decoded.dtype == np.uint8 and decoded.shape == (32, 32, 3)
    # JPEG is lossy (chroma subsampling blurs colour edges), but the scene is unmistakable
    assert np.abs(decoded.astype(int) - image.astype(int)).mean() < 8
    grey = tf.io.encode_png(image[..., :1])
    np.testing.assert_array_equal(decode_image(grey, 32).numpy(),
                                  np.repeat(image[..., :1], 3, axis=-1))
    rgba = tf.io.encode_png(np.concatenate([image, np.full((32, 32, 1), 255, np.uint8)], -1))
    np.testing.assert_array_equal(decode_image(rgba, 32).numpy(), image)


def test_resizing_a_flat_image_keeps_its_colour_and_batches_decode():
    flat = np.full((40, 24, 3), (10, 200, 90), np.uint8)  # not square: squashed to 16 x 16
    batch = decode_images(tf.constant([tf.io.encode_png(flat).numpy()] * 2), 16).numpy()
    assert batch.shape == (2, 16, 16, 3)
    assert (batch == np.array([10, 200, 90], np.uint8)).all()


def test_not_an_image_fails_to_decode():
    with pytest.raises(tf.errors.InvalidArgumentError):
        decode_image(tf.constant(b"hello, not an image"), 16)


@pytest.mark.parametrize("size,grid", [(32, 2), (64, 4)])
def test_cnn_encoder_grid_is_a_sixteenth_of_the_image(size, grid):
    encoder = IMAGE_ENCODERS["cnn"](size)
    out = encoder(np.zeros((2, size, size, 3), np.float32))
    assert tuple(out.shape) == (2, grid, grid, 256)


@pytest.mark.parametrize("name", [n for n in IMAGE_ENCODERS if n != "cnn"])
def test_every_pretrained_backbone_builds_from_scratch_and_sees_the_image(name):
    """Each registered keras.applications backbone (weights 'none', so offline) at 64 px: a
    2 x 2 feature grid (the image / 32), finite, and different for different images."""
    encoder = IMAGE_ENCODERS[name](64, None)
    pixels = np.stack([scene(64), scene(64)[::-1]]).astype(np.float32)  # 0-255, as fed
    out = np.asarray(encoder(pixels))
    assert out.ndim == 4 and out.shape[:3] == (2, 2, 2), out.shape
    assert np.isfinite(out).all()
    # relative: an untrained MobileNetV3 in inference mode gives features of ~1e-10
    assert np.linalg.norm(out[0] - out[1]) > 1e-3 * np.linalg.norm(out[0])


def test_augment_shifts_and_jitters_but_never_mirrors():
    """A white vertical bar at column 40 of a 64-px image whose left half is dark and right half
    bright: after augmentation the bar lies within 64/8 = 8 columns of where it was, the dark
    side stays on the left (no flip: captions say left and right), shape and dtype survive,
    and two draws differ."""
    from seqtasks.layers.images import augment_image as augment

    image = np.zeros((64, 64, 3), np.uint8)
    image[:, 32:] = 150
    image[:, 40] = 255
    tf.random.set_seed(0)
    outs = [augment(tf.constant(image)).numpy() for _ in range(20)]
    for out in outs:
        assert out.shape == image.shape and out.dtype == np.uint8
        bar = int(np.argmax(out[32, :, 0].astype(int)))
        assert abs(bar - 40) <= 8, bar
        assert out[:, :16].mean() < out[:, 48:].mean()
    assert len({out.tobytes() for out in outs}) > 1


# ----- in the captioning recipe, on a Flickr8k layout ---------------------------------------

def test_padding_never_changes_a_caption_probability(flickr):
    """An image's caption probabilities are the same alone and batched with an image that has
    more and longer captions (padding in both the caption and the step axes)."""
    import seqtasks

    recipe = seqtasks.get_recipe("captioning")
    task = recipe(recipe.default_config(tiny_captioning(*flickr_overrides(flickr))))
    task.build_datasets()
    model = task.build_model()
    raw = task.reader.raw_inputs(list(itertools.islice(task.splits["train"], 2)))["image"]
    images = task.preprocessor({"image": tf.constant(raw[:2])}).numpy()
    short = np.array([[[2, 5, 6, 3]]])
    alone = model.predict_on_batch([images[:1], short])
    padded = np.zeros((2, 3, 9), np.int32)
    padded[0, 0, :4] = short[0, 0]
    padded[1] = [[2, 5, 6, 7, 8, 9, 5, 6, 3], [2, 7, 3, 0, 0, 0, 0, 0, 0],
                 [2, 8, 8, 3, 0, 0, 0, 0, 0]]
    batched = model.predict_on_batch([images, padded])
    np.testing.assert_allclose(batched[0, 0, :4], alone[0, 0], atol=1e-5)
    assert np.allclose(batched.sum(-1), 1.0, atol=1e-4)


@pytest.mark.slow
def test_frozen_backbone_with_a_local_weights_file(flickr, tmp_path):
    """A keras.applications backbone, its weights from a file; model.train_encoder=false keeps
    them unchanged through training."""
    import keras

    import seqtasks
    from seqtasks.layers import Captioner

    backbone = IMAGE_ENCODERS["mobilenet_v3_small"](32, None)
    weights = tmp_path / "backbone.weights.h5"
    backbone.save_weights(weights)
    result = seqtasks.run("captioning", tiny_captioning(
        *flickr_overrides(flickr), "model.encoder=mobilenet_v3_small",
        f"model.encoder_weights={weights}", "model.train_encoder=false",
        f"export.dir={tmp_path / 'x'}", "decode.strategy=greedy", epochs=1),
        output=tmp_path / "run", echo=lambda *_: None, verbose=0)
    model = keras.models.load_model(tmp_path / "run" / "model.keras")
    captioner = next(layer for layer in model.layers if isinstance(layer, Captioner))
    trained = captioner.image_encoder.get_weights()
    for before, after in zip(backbone.get_weights(), trained):
        np.testing.assert_array_equal(before, after)
    assert result.export_dir.exists()


def test_backbone_weights_that_cannot_be_loaded(flickr, tmp_path):
    """Fails in building the model, after the data was read: one line, and no run directory
    (nor export) left behind."""
    weights = write(tmp_path / "weights.h5", "not an HDF5 file\n")
    result = run_expecting_failure("captioning", tmp_path, tiny_captioning(
        *flickr_overrides(flickr), "model.encoder=mobilenet_v3_small", "data.image_size=32",
        f"model.encoder_weights={weights}"))
    assert_clean_failure(result, "model.encoder_weights", "weights.h5",
                         "cannot load the weights of mobilenet_v3_small")
