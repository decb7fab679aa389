import gc
import os
import shutil

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

#: A test worker holds trained models and traced graphs: over a million Python objects, which
#: every full (generation 2) garbage collection walks, 1-2 s each. Left automatic, they took
#: 10-30 s of each worker's fast run. The young generations still collect as usual; the full
#: collection runs after a test once the worker has grown by this much since the last one.
FULL_COLLECTION_GROWTH = 4 << 30
_STATM = "/proc/self/statm"
_memory = {"after_full_collection": 0}
if os.path.exists(_STATM):  # elsewhere the collector keeps its own schedule
    gc.set_threshold(*gc.get_threshold()[:2], 1 << 30)


def _resident_bytes():
    with open(_STATM) as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def pytest_runtest_teardown(item, nextitem):
    if not os.path.exists(_STATM):
        return
    if _resident_bytes() - _memory["after_full_collection"] > FULL_COLLECTION_GROWTH:
        gc.collect()
        _memory["after_full_collection"] = _resident_bytes()


def pytest_addoption(parser):
    parser.addoption("--run-long", action="store_true",
                     help="also run the tests marked long: whole default runs on built-in data "
                          "that take 5-7 minutes each alone (python benchmarks/builtin_runs.py "
                          "runs and times the same runs)")


#: Modules that go first: the contract trains every recipe and shares its exports with the
#: serve and Python API tests of group "exports", which would otherwise train them again.
FIRST_MODULES = ("test_recipe_contract",)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """Under ``pytest -n`` (``--dist loadgroup``), tests that share a module-scoped fixture (a
    trained model) run on one worker, so the fixture is built once. Tests grouped by hand
    (the contract and serve tests share group "exports") keep their group. The ``serial``
    tests (whole runs on built-in data, minutes each) run on one worker, one after another,
    so that two of them never share the cores; the other slow tests spread over the workers
    like the rest. The ``long`` ones skip unless ``--run-long`` is given. (No test checks
    wall-clock time: a suite that fails on a slower machine is broken.)"""
    items.sort(key=lambda item: item.module.__name__ not in FIRST_MODULES)  # stable
    run_long = config.getoption("--run-long")
    for item in items:
        if item.get_closest_marker("long") and not run_long:
            item.add_marker(pytest.mark.skip(
                reason="a long whole run: give --run-long, or run python "
                       "benchmarks/builtin_runs.py"))
        if item.get_closest_marker("serial"):
            item.add_marker(pytest.mark.xdist_group("serial"))
            continue
        if item.get_closest_marker("xdist_group"):
            continue
        defs = getattr(item, "_fixtureinfo", None)
        shared = defs and any(d[-1].scope == "module" for d in defs.name2fixturedefs.values())
        if shared:
            item.add_marker(pytest.mark.xdist_group(item.module.__name__))


#: Groups handed out before all others under ``-n``: the whole runs one after another (the
#: longest chain of the whole run), and the shared exports (the longest of the fast run).
FIRST_GROUPS = ("serial", "exports")


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """``--dist loadgroup`` with :data:`FIRST_GROUPS` first. xdist hands out the groups with
    the most tests first, which would leave a long group of few tests for last."""
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadGroupScheduling

    class FirstGroupsFirst(LoadGroupScheduling):
        def _assign_work_unit(self, node):
            for group in reversed(FIRST_GROUPS):
                if group in self.workqueue:
                    self.workqueue.move_to_end(group, last=False)
            super()._assign_work_unit(node)

    return FirstGroupsFirst(config, log)


@pytest.fixture(scope="module")
def text_file(tmp_path_factory):
    """language_model's training text (:func:`tiny_data.write_text_file`), one per test
    module."""
    from tiny_data import write_text_file

    return write_text_file(tmp_path_factory.mktemp("lm") / "text.txt")


@pytest.fixture(scope="module")
def flickr(tmp_path_factory):
    """A Flickr8k layout (:func:`tiny_data.write_flickr_layout`): Images/ (PNG and JPEG),
    captions.txt, and train.txt, test.txt; one per test module."""
    from tiny_data import write_flickr_layout

    return write_flickr_layout(tmp_path_factory.mktemp("flickr"))


@pytest.fixture(scope="session")
def smart_reply_run(tmp_path_factory):
    """A folder with smart_reply's data files (``train.csv``, ``test.csv``, ``replies.csv``)
    and a tiny ``seqtasks run`` on them (``run/``, ``exports/``), shared by
    tests/recipes/test_smart_reply.py and tests/test_deployed.py (one xdist group)."""
    import csv

    from helpers import cli, set_args, tiny, write_csv

    from seqtasks.recipes.smart_reply import builtin as builtin

    root = tmp_path_factory.mktemp("smart_reply")
    write_csv(root / "train.csv", builtin.generate(300, seed=1))
    write_csv(root / "test.csv", builtin.generate(60, seed=2))
    with open(root / "replies.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["label", "reply"])
        writer.writerows(builtin.replies().items())
    overrides = tiny(f"data.train={root / 'train.csv'}", f"data.test={root / 'test.csv'}",
                     f"data.replies={root / 'replies.csv'}", f"export.dir={root / 'exports'}")
    result = cli("run", "smart_reply", *set_args(overrides), "--output", root / "run")
    assert result.exit_code == 0, result.output
    return root


@pytest.fixture(scope="session")
def served_exports(tmp_path_factory):
    """``(export.dir, {recipe: version path})``: every recipe trained one step on its built-in
    data and exported, for the ``seqtasks serve`` tests. An export the contract test already
    trained in this run is copied, not built again (both are in ``xdist_group("exports")``,
    the contract test first)."""
    from samples import TINY, publish_tiny_export, shared_tiny_export, tiny_exports

    root = tmp_path_factory.mktemp("served") / "exports"
    versions = {}
    for name in sorted(TINY):
        with shared_tiny_export(tmp_path_factory, name) as shared:
            if not shared.exists():
                built = tiny_exports(tmp_path_factory.mktemp("built"), [name])[name]
                publish_tiny_export(built, shared)
            shutil.copytree(shared, root / name)
        versions[name] = max((root / name).iterdir(), key=lambda p: int(p.name))
    return root, versions


@pytest.fixture(scope="session")
def direct_call(served_exports):
    """``direct_call(recipe, signature="serving_default", **inputs)``: a signature of the
    served export called by TensorFlow alone; ``{output: NumPy array}``."""
    import tensorflow as tf

    loaded = {}

    def call(recipe, signature="serving_default", **inputs):
        if recipe not in loaded:
            loaded[recipe] = tf.saved_model.load(str(served_exports[1][recipe]))
        outputs = loaded[recipe].signatures[signature](
            **{k: tf.constant(v) for k, v in inputs.items()})
        return {k: v.numpy() for k, v in outputs.items()}

    return call
