"""The models a server serves: found under an export folder, loaded, and replaced by a newer
version when one appears (as TF Serving polls its model base paths).

``export.dir`` holds one folder per model (``<export.dir>/<recipe>/<version>/``); a single
model's folder (``<export.dir>/<recipe>``) can be served alone. Like TF Serving's default
policy, each model serves its newest version; an older one is dropped once a newer one has
loaded, and requests already running on it finish first (they hold a reference to it).
"""

import dataclasses
import functools
import threading
from pathlib import Path

from seqtasks.errors import ExportError
from seqtasks.export import METADATA, read_metadata
from seqtasks.serving.batching import batchable
from seqtasks.signatures import input_specs


class NotFound(LookupError):
    """No servable for a model name and version."""


@dataclasses.dataclass
class Servable:
    """One loaded version of a model."""

    name: str
    version: int
    path: Path
    signatures: dict  # name -> concrete function
    metadata: dict  # the export's seqtasks.json
    signature_defs: dict  # name -> SignatureDef as JSON (TF Serving's metadata answer)
    loaded: object = None  # the loaded SavedModel: keeps the variables alive

    def specs(self, signature_name):
        """``{input: tf.TensorSpec}`` of a signature."""
        return self.all_specs[signature_name]

    @functools.cached_property
    def all_specs(self):
        """``{signature: {input: tf.TensorSpec}}``, read once (every request needs them)."""
        return {name: input_specs(function) for name, function in self.signatures.items()}

    @functools.cached_property
    def batchable(self):
        """``{signature: whether concurrent requests to it can run as one batch}``."""
        return {name: batchable(specs) for name, specs in self.all_specs.items()}


def _versions(folder):
    """``{version: path}`` of the complete versions in a model folder."""
    if not folder.is_dir():
        return {}
    return {int(p.name): p for p in folder.iterdir()
            if p.name.isdigit() and (p / "saved_model.pb").exists()}


def _signature_defs(path):
    from google.protobuf import json_format
    from tensorflow.python.tools import saved_model_utils

    meta_graph = saved_model_utils.get_meta_graph_def(str(path), "serve")
    return {name: json_format.MessageToDict(sig, preserving_proto_field_name=True,
                                            always_print_fields_with_no_presence=True)
            for name, sig in meta_graph.signature_def.items() if not name.startswith("__")}


def load_servable(name, version, path):
    from seqtasks.export import load_saved_model

    loaded = load_saved_model(path)
    metadata = read_metadata(path) if (path / METADATA).exists() else {}  # plain SavedModels too
    signatures = dict(loaded.signatures)
    return Servable(name, version, path, signatures, metadata, _signature_defs(path), loaded)


class ModelStore:
    """The servable models under ``root`` (an ``export.dir`` or one model's folder).

    Args:
        root: ``export.dir`` or ``export.dir/<recipe>``.
        name: Serve only this model; for a single model's folder, the name it is served under.
        poll_seconds: How often the folders are checked for new versions (0: never).
        log: Called with one line per version loaded or failing to load.
    """

    def __init__(self, root, name=None, poll_seconds=1.0, log=print):
        self.root = Path(root)
        self.name = name
        self.poll_seconds = poll_seconds
        self.log = log
        self._servables = {}  # name -> Servable (the newest loaded version)
        self._failed = set()  # (name, version) that did not load; not retried
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = None
        if not self.root.is_dir():
            raise ExportError(f"{self.root}: no such export folder")
        if not self.folders():
            raise ExportError(
                f"{self.root}: no exported models here (expected <export.dir>/<recipe>/<version>/"
                f"saved_model.pb, or <export.dir>/<recipe> itself)"
                + (f" named {name!r}" if name else ""))

    def folders(self):
        """``{model name: folder}`` of the models to serve."""
        if any(p.name.isdigit() for p in self.root.iterdir()):  # one model's folder
            return {self.name or self.root.name: self.root}
        found = {p.name: p for p in sorted(self.root.iterdir())
                 if p.is_dir() and any(c.name.isdigit() for c in p.iterdir())}
        return found if self.name is None else {k: v for k, v in found.items() if k == self.name}

    def poll(self):
        """Load the newest version of each model if it is newer than the one served."""
        for name, folder in self.folders().items():
            versions = _versions(folder)
            if not versions:
                continue
            newest = max(versions)
            current = self._servables.get(name)
            if (current is not None and current.version >= newest) or (
                    (name, newest) in self._failed):
                continue
            try:
                servable = load_servable(name, newest, versions[newest])
            except Exception as error:  # a broken export must not stop the others
                self._failed.add((name, newest))
                first = str(error).strip().splitlines()[0] if str(error).strip() else ""
                self.log(f"{versions[newest]}: could not be loaded ({type(error).__name__}: "
                         f"{first}); still serving "
                         + (f"version {current.version}" if current else "nothing"))
                continue
            with self._lock:
                self._servables[name] = servable
            self.log(f"serving {name} version {newest} ({versions[newest]})")

    def start(self):
        """Load what is there now, then keep polling in a background thread."""
        self.poll()
        if self.poll_seconds > 0 and self._thread is None:
            self._thread = threading.Thread(target=self._poll_loop, name="model-poll",
                                            daemon=True)
            self._thread.start()
        return self

    def _poll_loop(self):
        while not self._stop.wait(self.poll_seconds):
            try:
                self.poll()
            except OSError as error:  # a folder vanished while being read: try again later
                self.log(f"{self.root}: {error}")

    def stop(self):
        self._stop.set()

    def names(self):
        with self._lock:
            return sorted(self._servables)

    def get(self, name, version=None):
        """The servable of ``name`` (its newest version, or exactly ``version``)."""
        with self._lock:
            servable = self._servables.get(name)
        if servable is None:
            raise NotFound(f"Servable not found for request: Latest({name})" if version is None
                           else f"Servable not found for request: Specific({name}, {version})")
        if version is not None and servable.version != version:
            raise NotFound(f"Servable not found for request: Specific({name}, {version})")
        return servable
