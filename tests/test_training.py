import keras

from seqtasks import training
from seqtasks.config import COMMON, defaults


def test_callbacks_follow_the_train_configuration(tmp_path):
    train = defaults(COMMON)["train"] | {"early_stopping_patience": 2, "reduce_lr_patience": 1,
                                         "monitor": "val_accuracy"}
    kinds = {type(c): c for c in training.callbacks(tmp_path, train)}
    assert kinds[keras.callbacks.EarlyStopping].monitor == "val_accuracy"
    assert kinds[keras.callbacks.ReduceLROnPlateau].patience == 1
    assert keras.callbacks.BackupAndRestore in kinds and keras.callbacks.TensorBoard in kinds
    off = defaults(COMMON)["train"] | {"early_stopping_patience": 0, "reduce_lr_patience": 0}
    kinds = {type(c) for c in training.callbacks(tmp_path, off)}
    assert keras.callbacks.EarlyStopping not in kinds
    assert keras.callbacks.ReduceLROnPlateau not in kinds
