"""Image decoding inside the graph, against the pixels that were encoded."""

import numpy as np
import pytest
import tensorflow as tf

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
