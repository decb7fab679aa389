"""Distribution strategies by name (``train.strategy``)."""

import tensorflow as tf


def _mirrored():
    # On a machine with GPUs MirroredStrategy uses them; on CPUs it would use only the
    # first, so mirror over every logical CPU device instead (tests split one CPU in two).
    if tf.config.list_logical_devices("GPU"):
        return tf.distribute.MirroredStrategy()
    cpus = [d.name for d in tf.config.list_logical_devices("CPU")]
    return tf.distribute.MirroredStrategy(devices=cpus)


STRATEGIES = {
    "default": tf.distribute.get_strategy,
    "mirrored": _mirrored,
    # Reads the cluster from the TF_CONFIG environment variable.
    "multi_worker": tf.distribute.MultiWorkerMirroredStrategy,
}


def get_strategy(name):
    return STRATEGIES[name]()
