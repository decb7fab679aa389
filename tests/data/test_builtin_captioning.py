"""The generated captioning scenes: drawing, captions, determinism and speed."""
import random

import numpy as np

from seqtasks.recipes.captioning import builtin as captioning
from seqtasks.recipes.captioning.builtin import (
    BACKGROUND,
    COLOURS,
    caption,
    draw,
    generate,
    random_scene,
    references,
    relation,
    splits,
)


def _scenes(count, seed=0):
    rng = random.Random(seed)
    return [random_scene(rng) for _ in range(count)]


def _pixel(scene_x, scene_y, size):
    return int(scene_y * size), int(scene_x * size)


def test_generation_is_deterministic():
    a, b, c = generate(20, seed=7), generate(20, seed=7), generate(20, seed=8)
    assert all(np.array_equal(x[0], y[0]) and x[1] == y[1] for x, y in zip(a, b))
    assert [x[1] for x in a] != [x[1] for x in c]
    s1, s2 = splits(seed=3, train=5, validation=2, test=2), splits(seed=3, train=5,
                                                                   validation=2, test=2)
    assert {k: len(v) for k, v in s1.items()} == {"train": 5, "validation": 2, "test": 2}
    assert [x[1] for x in s1["test"]] == [x[1] for x in s2["test"]]


def test_image_dtype_and_shape():
    for image, captions in generate(10, seed=1, size=48):
        assert image.dtype == np.uint8 and image.shape == (48, 48, 3)
        assert 1 <= len(captions) <= 2


def test_shape_centres_have_their_colour_and_background_elsewhere():
    for scene in _scenes(300):
        image = draw(scene, 64)
        for _, colour, cx, cy, _ in scene:
            assert tuple(image[_pixel(cx, cy, 64)]) == COLOURS[colour]
        colours = {tuple(p) for p in image.reshape(-1, 3)}
        assert colours <= {BACKGROUND} | {COLOURS[s[1]] for s in scene}
        for corner in [(0, 0), (0, 63), (63, 0), (63, 63)]:
            assert tuple(image[corner]) == BACKGROUND


def test_circle_square_and_triangle_differ():
    def at(kind, dx, dy):
        image = draw([(kind, "red", 0.5, 0.5, 0.3)], 100)
        return tuple(image[int((0.5 + dy) * 100), int((0.5 + dx) * 100)])

    red = COLOURS["red"]
    assert at("square", 0.27, 0.27) == red
    assert at("circle", 0.27, 0.27) == BACKGROUND
    assert at("circle", 0.27, 0.0) == red
    assert at("triangle", 0.27, 0.27) == red  # base corner
    assert at("triangle", -0.27, -0.27) == BACKGROUND  # beside the apex
    assert at("triangle", 0.0, -0.27) == red


def test_shapes_do_not_overlap():
    for scene in _scenes(500, seed=2):
        if len(scene) == 2:
            image = draw(scene, 64)
            for shape in scene:
                alone = draw([shape], 64)
                mask = np.any(alone != BACKGROUND, axis=-1)
                assert (image[mask] == COLOURS[shape[1]]).all()


def test_caption_matches_the_scene():
    assert caption([("square", "white", 0.5, 0.5, 0.1)]) == "a white square"
    left = ("circle", "red", 0.2, 0.5, 0.1)
    right = ("square", "blue", 0.8, 0.55, 0.1)
    assert caption([left, right]) == "a red circle left of a blue square"
    assert caption([right, left]) == "a blue square right of a red circle"
    top = ("triangle", "green", 0.5, 0.2, 0.1)
    bottom = ("circle", "yellow", 0.45, 0.8, 0.1)
    assert caption([top, bottom]) == "a green triangle above a yellow circle"
    assert caption([bottom, top]) == "a yellow circle below a green triangle"


def test_two_captions_are_consistent_and_relations_unambiguous():
    opposite = {"left of": "right of", "right of": "left of", "above": "below",
                "below": "above"}
    for scene in _scenes(500, seed=4):
        refs = references(scene)
        if len(scene) == 1:
            assert refs == [caption(scene)]
            continue
        first, second = scene
        assert (first[0], first[1]) != (second[0], second[1])
        rel = relation(first, second)
        assert refs == [caption(scene), caption(scene[::-1])]
        assert relation(second, first) == opposite[rel]
        assert refs[0].startswith(f"a {first[1]} {first[0]} {rel} ")
        assert refs[1] == f"a {second[1]} {second[0]} {opposite[rel]} a {first[1]} {first[0]}"
        dx, dy = abs(first[2] - second[2]), abs(first[3] - second[3])
        along, across = max(dx, dy), min(dx, dy)
        assert across <= along / 2 + 1e-9
        assert along >= first[4] + second[4] + 0.05


def test_captions_are_varied():
    captions = [refs[0] for refs in (references(s) for s in _scenes(3000, seed=5))]
    assert len(set(captions)) >= 100
    singles = sum(1 for c in captions if " of " not in c and " above " not in c
                  and " below " not in c)
    assert 0.1 * 3000 < singles < 0.5 * 3000
    assert captioning.KINDS == ("circle", "square", "triangle") and len(COLOURS) == 5
