"""Images in the graph: decoding encoded bytes, and the image encoders of the captioning recipe.

:func:`decode_image` is the one preprocessing function, used by the tf.data pipeline and by the
exported SavedModel alike, so a served image is seen exactly as the training images were;
:func:`augment_image` is the training-only augmentation.

``IMAGE_ENCODERS`` maps ``model.encoder`` to a builder ``(image_size, weights) -> keras.Model``
taking ``uint8``-valued float pixels ``[batch, size, size, 3]`` (0-255) and returning a feature
grid ``[batch, rows, columns, channels]``. ``"cnn"`` is a small network trained from scratch;
the others are ``keras.applications`` backbones without their classifier, which carry their
own input preprocessing and take ``weights`` = ``"imagenet"``, a weights file or ``None``.
"""

import os

import keras
import tensorflow as tf

from seqtasks.errors import ConfigError


def decode_image(data, size):
    """Encoded JPEG or PNG bytes (a scalar string) -> ``uint8 [size, size, 3]``.

    Greyscale and RGBA images become RGB; the image is resized to a square (aspect ratio not
    kept) with an antialiasing bilinear filter and rounded back to ``uint8``.
    """
    image = tf.io.decode_image(data, channels=3, expand_animations=False)
    image = tf.image.resize(image, [size, size], antialias=True)
    return tf.cast(tf.clip_by_value(tf.round(image), 0.0, 255.0), tf.uint8)


def decode_images(data, size):
    """A ``(batch,)`` string tensor of encoded images -> ``uint8 [batch, size, size, 3]``."""
    return tf.map_fn(lambda one: decode_image(one, size), data,
                     fn_output_signature=tf.TensorSpec([size, size, 3], tf.uint8))


def _conv(x, filters, strides=1):
    x = keras.layers.Conv2D(filters, 3, strides=strides, padding="same", use_bias=False)(x)
    x = keras.layers.BatchNormalization()(x)
    return keras.layers.ReLU()(x)


def small_cnn(image_size, weights=None):
    """A VGG-like network trained from scratch: a strided stem, three blocks of two 3x3
    convolutions and max pooling (32, 64, 128 filters), and a 256-filter 3x3 convolution.
    The grid is ``image_size / 16`` on each side (4 x 4 at 64 pixels)."""
    if weights is not None:
        raise ValueError("the 'cnn' encoder is trained from scratch and has no pretrained "
                         f"weights; found weights={weights!r}")
    inputs = keras.Input((image_size, image_size, 3), name="pixels")
    x = keras.layers.Rescaling(1 / 127.5, offset=-1.0)(inputs)
    x = _conv(x, 32, strides=2)
    for filters in (32, 64, 128):
        x = _conv(x, filters)
        if filters > 32:
            x = _conv(x, filters)
        x = keras.layers.MaxPooling2D()(x)
    x = _conv(x, 256)
    return keras.Model(inputs, x, name="cnn")


def _application(constructor, **extra):
    def build(image_size, weights=None):
        return constructor(input_shape=(image_size, image_size, 3), include_top=False,
                           weights=weights, **extra)

    return build


#: ``model.encoder`` -> builder ``(image_size, weights) -> keras.Model`` (see module docs).
IMAGE_ENCODERS = {
    "cnn": small_cnn,
    "mobilenet_v3_small": _application(keras.applications.MobileNetV3Small,
                                       include_preprocessing=True),
    "mobilenet_v3_large": _application(keras.applications.MobileNetV3Large,
                                       include_preprocessing=True),
    "efficientnet_b0": _application(keras.applications.EfficientNetB0),
    "efficientnetv2_b0": _application(keras.applications.EfficientNetV2B0,
                                      include_preprocessing=True),
}
#: Smallest image side each encoder accepts.
MIN_IMAGE_SIZE = {"cnn": 16, "mobilenet_v3_small": 32, "mobilenet_v3_large": 32,
                  "efficientnet_b0": 32, "efficientnetv2_b0": 32}


def augment_image(image):
    """A random shift of up to 1/8 of the side (edge pixels repeated) and brightness and
    contrast jitter; ``uint8`` in, ``uint8`` out. Never a flip: captions say left and right."""
    size = tf.shape(image)[0]
    pad = tf.maximum(size // 8, 1)
    padded = tf.pad(image, [[pad, pad], [pad, pad], [0, 0]], mode="SYMMETRIC")
    shifted = tf.image.random_crop(padded, tf.shape(image))
    x = tf.cast(shifted, tf.float32) / 255.0
    x = tf.image.random_brightness(x, 0.1)
    x = tf.image.random_contrast(x, 0.85, 1.15)
    return tf.cast(tf.clip_by_value(x * 255.0 + 0.5, 0.0, 255.0), tf.uint8)


def encoder_weights(encoder, weights, image_size):
    """The ``weights`` argument of ``IMAGE_ENCODERS[encoder]`` for ``model.encoder_weights``
    (None: imagenet for backbones, none for cnn); a :class:`ConfigError` for weights the
    encoder cannot take or an image too small for it."""
    if weights is None:
        weights = "none" if encoder == "cnn" else "imagenet"
    if weights != "none" and encoder == "cnn":
        raise ConfigError(f"model.encoder_weights: the cnn encoder is trained from scratch; "
                          f"expected 'none', found {weights!r}")
    if weights not in ("none", "imagenet") and not os.path.isfile(weights):
        raise ConfigError(f"model.encoder_weights: expected 'imagenet', 'none' or a weights "
                          f"file, found {weights!r} (no such file)")
    if image_size < MIN_IMAGE_SIZE[encoder]:
        raise ConfigError(f"data.image_size: the {encoder} encoder needs at least "
                          f"{MIN_IMAGE_SIZE[encoder]} pixels, found {image_size}")
    return None if weights == "none" else weights
