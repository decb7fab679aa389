"""Distribution strategies by name (``train.strategy``) and the worker's place in a cluster.

``multi_worker`` reads the cluster from the ``TF_CONFIG`` environment variable, as every
TensorFlow multi-worker job does: the same command runs on every worker, each with its own
``TF_CONFIG`` (``seqtasks run ... --workers N`` writes them for N local processes, see
:mod:`seqtasks.launch`). ``train.batch_size`` is the batch of one worker; a step trains on
``batch_size x workers`` examples.

Every worker builds the same pipeline (same seed, same order) of global batches and trains on
its own slice of each (:func:`distribute_dataset`), so an example is seen once per epoch,
every worker takes as many steps as the others, and stateful streams (language_model) keep
their rows: worker ``i`` always gets rows ``[i*b, (i+1)*b)`` of every window.
"""

import dataclasses
import functools
import json
import os


@dataclasses.dataclass(frozen=True)
class Role:
    """This process's place in the cluster (``TF_CONFIG``); one worker without it."""

    task_type: str = "worker"
    index: int = 0
    workers: int = 1  # chief and workers: the processes that train
    has_chief: bool = False

    @property
    def chief(self):
        """The chief writes the run directory: the ``chief`` task, or worker 0 without one."""
        return self.task_type == "chief" or (self.task_type == "worker" and self.index == 0
                                             and not self.has_chief)

    @property
    def name(self):
        return f"{self.task_type} {self.index}"


def role(strategy_name="multi_worker"):
    """The :class:`Role` of this process; a single worker unless ``strategy_name`` is
    ``multi_worker`` and ``TF_CONFIG`` names a cluster."""
    if strategy_name != "multi_worker" or not os.environ.get("TF_CONFIG"):
        return Role()
    config = json.loads(os.environ["TF_CONFIG"])
    cluster, task = config.get("cluster", {}), config.get("task", {})
    trainers = len(cluster.get("chief", [])) + len(cluster.get("worker", []))
    return Role(task.get("type", "worker"), int(task.get("index", 0)), max(trainers, 1),
                has_chief=bool(cluster.get("chief")))


def _mirrored():
    import tensorflow as tf

    # On a machine with GPUs MirroredStrategy uses them; on CPUs it would use only the
    # first, so mirror over every logical CPU device instead (tests split one CPU in two).
    if tf.config.list_logical_devices("GPU"):
        return tf.distribute.MirroredStrategy()
    cpus = [d.name for d in tf.config.list_logical_devices("CPU")]
    return tf.distribute.MirroredStrategy(devices=cpus)


@functools.cache  # created once per process, before any other TensorFlow op
def _multi_worker():
    import tensorflow as tf

    # A worker that dies is noticed by the others through its closed connections (on one
    # machine) or TensorFlow's periodic health check of the cluster (across machines); a
    # collective timeout would also fail a worker that waits while the chief is slower.
    return tf.distribute.MultiWorkerMirroredStrategy()


def _default():
    import tensorflow as tf

    return tf.distribute.get_strategy()


STRATEGIES = {
    "default": _default,
    "mirrored": _mirrored,
    "multi_worker": _multi_worker,
}


def get_strategy(name):
    return STRATEGIES[name]()


def workers(name):
    """How many workers train under strategy ``name`` (``TF_CONFIG``'s trainers)."""
    return role(name).workers


def per_worker(dataset):
    """Mark ``dataset`` as this worker's own batches (it read its own share of the data):
    :func:`distribute_dataset` hands it to the worker as it is."""
    dataset.seqtasks_per_worker = True
    return dataset


def distribute_dataset(strategy, dataset):
    """``dataset`` of global batches as a distributed dataset in which each worker gets its
    share of every batch: of ``n`` rows, worker ``i`` of ``k`` takes rows ``[i*n//k,
    (i+1)*n//k)`` (a full batch of ``train.batch_size x k`` rows gives every worker
    ``train.batch_size`` rows, in the same place every step). A batch with fewer rows than
    workers (the last of a length bucket, now and then) is left out, as no worker may train
    on an empty batch (batch normalisation cannot).

    Every worker runs the whole pipeline (held-out splits, and the training data of the
    recipes that do not stream): the sharding is by data, done here rather than by
    TensorFlow's auto-sharding, which would rebatch bucketed batches of unknown size. A
    dataset marked :func:`per_worker` (a worker's batches of its own share of a streamed
    training set) is the worker's as it is.
    """
    import tensorflow as tf

    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.OFF
    if getattr(dataset, "seqtasks_per_worker", False):
        own = dataset.with_options(options)
        return strategy.distribute_datasets_from_function(lambda context: own)

    def rows(parts):
        return tf.shape(tf.nest.flatten(parts)[0])[0]

    def slice_of(context):
        index, count = context.input_pipeline_id, context.num_input_pipelines

        def share(*parts):
            n = rows(parts)
            start, stop = index * n // count, (index + 1) * n // count
            parts = tf.nest.map_structure(lambda t: t[start:stop], parts)
            return parts if len(parts) > 1 else parts[0]

        return (dataset.filter(lambda *parts: rows(parts) >= count).map(share)
                .with_options(options))

    return strategy.distribute_datasets_from_function(slice_of)
