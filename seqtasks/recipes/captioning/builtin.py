"""A generated image-captioning data set: small RGB scenes of one or two flat-coloured shapes on
a dark background, drawn with numpy, and captions that describe them.

A scene is a list of shapes ``(kind, colour, cx, cy, radius)`` in relative units (0 to 1, x to
the right, y down): ``kind`` in ``KINDS``, ``colour`` in ``COLOURS``, radius in ``RADIUS`` (a
square's half-side; a triangle, pointing up, fits that square). Captions: "a white square", "a red
circle left of a blue square" (or right of, above, below: from the centres). Two shapes differ in
kind or colour and are clearly apart along one axis, at most half as far along the other, so the
relation is unambiguous; such a scene has two reference captions, one naming each shape first.
Generation is deterministic for a given seed.
"""

import functools
import random

import numpy as np

KINDS = ("circle", "square", "triangle")
COLOURS = {"red": (220, 40, 40), "green": (40, 200, 60), "blue": (50, 90, 235),
           "yellow": (240, 220, 40), "white": (240, 240, 240)}
BACKGROUND = (20, 20, 30)
RADIUS = (0.08, 0.16)
SINGLE_SHAPE_SHARE = 0.25
_GAP = 0.06


def _mask(kind, dx, dy, r):
    """The pixels of a shape of ``kind`` and radius ``r``, at offsets ``dx``, ``dy`` from it."""
    if kind == "circle":
        return dx * dx + dy * dy <= r * r
    if kind == "square":
        return (np.abs(dx) <= r) & (np.abs(dy) <= r)
    if kind == "triangle":
        # apex at (cx, cy - r), base from (cx - r, cy + r) to (cx + r, cy + r)
        depth = dy + r
        return (depth >= 0) & (dy <= r) & (np.abs(dx) <= depth / 2)
    raise ValueError(f"unknown shape kind {kind!r}; expected one of {', '.join(KINDS)}")


@functools.cache
def _grid(size):
    centres = (np.arange(size, dtype=np.float32) + 0.5) / size
    return centres[None, :], centres[:, None]


def draw(scene, size=64):
    """The scene as a ``uint8`` array ``[size, size, 3]`` (pixel centres at (i + 0.5) / size)."""
    image = np.full((size, size, 3), BACKGROUND, dtype=np.uint8)
    xs, ys = _grid(size)
    for kind, colour, cx, cy, r in scene:
        image[_mask(kind, xs - cx, ys - cy, r)] = COLOURS[colour]
    return image


def relation(first, second):
    """Where ``first`` is relative to ``second``, from their centres: "left of", "right of",
    "above" or "below" (the axis with the larger offset decides)."""
    dx, dy = second[2] - first[2], second[3] - first[3]
    if abs(dx) >= abs(dy):
        return "left of" if dx > 0 else "right of"
    return "above" if dy > 0 else "below"


def caption(scene):
    """The caption of a scene of one or two shapes, naming the first shape first."""
    if len(scene) not in (1, 2):
        raise ValueError(f"a scene has 1 or 2 shapes, found {len(scene)}")
    phrases = [f"a {colour} {kind}" for kind, colour, *_ in scene]
    return phrases[0] if len(scene) == 1 else f"{phrases[0]} {relation(*scene)} {phrases[1]}"


def random_scene(rng):
    """A random scene (see the module docstring) from ``rng`` (a ``random.Random``)."""
    r1, r2 = rng.uniform(*RADIUS), rng.uniform(*RADIUS)
    if rng.random() < SINGLE_SHAPE_SHARE:
        return [(rng.choice(KINDS), rng.choice(list(COLOURS)), rng.uniform(r1, 1 - r1),
                 rng.uniform(r1, 1 - r1), r1)]
    while True:
        kind1, colour1 = rng.choice(KINDS), rng.choice(list(COLOURS))
        kind2, colour2 = rng.choice(KINDS), rng.choice(list(COLOURS))
        if (kind1, colour1) != (kind2, colour2):
            break
    # along the relation axis: first shape at a, second at b = a + d (either order)
    d = rng.uniform(r1 + r2 + _GAP, 1 - r1 - r2)
    a = rng.uniform(r1, 1 - r2 - d)
    a, b = (1 - a, 1 - (a + d)) if rng.random() < 0.5 else (a, a + d)
    # across it: an offset of at most d / 2, both centres inside the image
    c1 = rng.uniform(max(r1, r2 - d / 2), min(1 - r1, 1 - r2 + d / 2))
    c2 = rng.uniform(max(r2, c1 - d / 2), min(1 - r2, c1 + d / 2))
    if rng.random() < 0.5:
        return [(kind1, colour1, a, c1, r1), (kind2, colour2, b, c2, r2)]
    return [(kind1, colour1, c1, a, r1), (kind2, colour2, c2, b, r2)]


def references(scene):
    """The reference captions of a scene: one for a single shape, both orders for two."""
    return [caption(scene)] + ([caption(scene[::-1])] if len(scene) == 2 else [])


def generate(count, seed, size=64):
    """``count`` ``(image, captions)`` pairs: a ``uint8 [size, size, 3]`` image, its references."""
    rng = random.Random(seed)
    scenes = [random_scene(rng) for _ in range(count)]
    return [(draw(scene, size), references(scene)) for scene in scenes]


def splits(seed=42, train=3000, validation=200, test=200, size=64):
    """Train, validation and test examples from three seeds drawn from ``seed``."""
    seeds = random.Random(seed)
    return {name: generate(count, seeds.getrandbits(64), size)
            for name, count in (("train", train), ("validation", validation), ("test", test))}
