"""A generated image-captioning data set: small RGB scenes of one or two flat-coloured shapes on
a dark background, drawn with numpy, and captions that describe them.

A scene is a list of shapes ``(kind, colour, cx, cy, radius)`` in relative units (0 to 1, x to
the right, y downwards): ``kind`` is one of ``KINDS`` (circle, square, triangle), ``colour`` a
name in ``COLOURS``; a circle has that radius, a square half-side, a triangle (pointing up)
fits the square of that half-side. Captions:

* one shape: "a white square";
* two shapes: "a red circle left of a blue square", with the relation (left of, right of,
  above, below) read from the shapes' centres. Generated scenes separate the two shapes
  clearly along one axis (their extents do not overlap along it, with a gap, and the offset
  along the other axis is at most half as large), so the relation is unambiguous and the
  shapes never overlap; the two shapes differ in kind or colour. Each two-shape scene has
  two equivalent reference captions: "a blue square right of a red circle" is the other.

Radii are random in ``RADIUS``. Generation is deterministic for a given seed.
"""

import random

import numpy as np

KINDS = ("circle", "square", "triangle")
COLOURS = {
    "red": (220, 40, 40),
    "green": (40, 200, 60),
    "blue": (50, 90, 235),
    "yellow": (240, 220, 40),
    "white": (240, 240, 240),
}
BACKGROUND = (20, 20, 30)
RADIUS = (0.08, 0.16)
SINGLE_SHAPE_SHARE = 0.25
_GAP = 0.06
_OPPOSITE = {"left of": "right of", "right of": "left of", "above": "below", "below": "above"}


def _masks(kind, cx, cy, r, xs, ys):
    dx, dy = xs - cx, ys - cy
    if kind == "circle":
        return dx * dx + dy * dy <= r * r
    if kind == "square":
        return (np.abs(dx) <= r) & (np.abs(dy) <= r)
    if kind == "triangle":
        # apex at (cx, cy - r), base from (cx - r, cy + r) to (cx + r, cy + r)
        depth = dy + r
        return (depth >= 0) & (dy <= r) & (np.abs(dx) <= depth / 2)
    raise ValueError(f"unknown shape kind {kind!r}; expected one of {', '.join(KINDS)}")


_GRIDS = {}


def _grid(size):
    if size not in _GRIDS:
        centres = (np.arange(size, dtype=np.float32) + 0.5) / size
        _GRIDS[size] = (centres[None, :], centres[:, None])
    return _GRIDS[size]


def draw(scene, size=64):
    """The scene as a ``uint8`` array ``[size, size, 3]`` (pixel centres at (i + 0.5) / size)."""
    image = np.empty((size, size, 3), dtype=np.uint8)
    image[:] = BACKGROUND
    xs, ys = _grid(size)
    for kind, colour, cx, cy, r in scene:
        image[_masks(kind, cx, cy, r, xs, ys)] = COLOURS[colour]
    return image


def relation(first, second):
    """Where ``first`` is relative to ``second``, from their centres: "left of", "right of",
    "above" or "below" (the axis with the larger offset decides)."""
    dx, dy = second[2] - first[2], second[3] - first[3]
    if abs(dx) >= abs(dy):
        return "left of" if dx > 0 else "right of"
    return "above" if dy > 0 else "below"


def _phrase(shape):
    return f"a {shape[1]} {shape[0]}"


def caption(scene):
    """The caption of a scene of one or two shapes, naming the first shape first."""
    if len(scene) == 1:
        return _phrase(scene[0])
    if len(scene) == 2:
        first, second = scene
        return f"{_phrase(first)} {relation(first, second)} {_phrase(second)}"
    raise ValueError(f"a scene has 1 or 2 shapes, found {len(scene)}")


def _shape(rng, r, x_range, y_range):
    return (rng.choice(KINDS), rng.choice(list(COLOURS)),
            rng.uniform(*x_range), rng.uniform(*y_range), r)


def random_scene(rng):
    """A random scene (see the module docstring) from ``rng`` (a ``random.Random``)."""
    r1, r2 = rng.uniform(*RADIUS), rng.uniform(*RADIUS)
    if rng.random() < SINGLE_SHAPE_SHARE:
        return [_shape(rng, r1, (r1, 1 - r1), (r1, 1 - r1))]
    while True:
        kind1, colour1 = rng.choice(KINDS), rng.choice(list(COLOURS))
        kind2, colour2 = rng.choice(KINDS), rng.choice(list(COLOURS))
        if (kind1, colour1) != (kind2, colour2):
            break
    # along the relation axis: first shape at a, second at b = a + d (either order)
    low, high = r1 + r2 + _GAP, 1 - r1 - r2
    d = rng.uniform(low, high)
    a = rng.uniform(r1, 1 - r2 - d)
    b = a + d
    if rng.random() < 0.5:
        a, b = 1 - a, 1 - b
    # across it: an offset of at most d / 2, both centres inside the image
    across_limit = d / 2
    c1 = rng.uniform(max(r1, r2 - across_limit), min(1 - r1, 1 - r2 + across_limit))
    c2 = rng.uniform(max(r2, c1 - across_limit), min(1 - r2, c1 + across_limit))
    if rng.random() < 0.5:
        return [(kind1, colour1, a, c1, r1), (kind2, colour2, b, c2, r2)]
    return [(kind1, colour1, c1, a, r1), (kind2, colour2, c2, b, r2)]


def references(scene):
    """The reference captions of a scene: one for a single shape, both orders for two."""
    if len(scene) == 1:
        return [caption(scene)]
    return [caption(scene), caption(scene[::-1])]


def generate(count, seed, size=64):
    """``count`` pairs ``(image, captions)``: a ``uint8 [size, size, 3]`` image and its
    reference captions."""
    rng = random.Random(seed)
    examples = []
    for _ in range(count):
        scene = random_scene(rng)
        examples.append((draw(scene, size), references(scene)))
    return examples


def splits(seed=42, train=3000, validation=200, test=200, size=64):
    """Train, validation and test examples from three seeds drawn from ``seed``."""
    seeds = random.Random(seed)
    sizes = {"train": train, "validation": validation, "test": test}
    return {name: generate(count, seeds.getrandbits(64), size) for name, count in sizes.items()}
