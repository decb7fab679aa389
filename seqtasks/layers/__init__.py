"""Keras layers of seqtasks: the Elman cell and RNN, the prediction head, preprocessing."""

from seqtasks.layers.elman import ElmanCell, ElmanRNN
from seqtasks.layers.head import PredictionHead
from seqtasks.layers.pooling import SequencePooling
from seqtasks.layers.preprocessing import FitLength
from seqtasks.layers.stack import CELLS, recurrent_layer, recurrent_stack

__all__ = ["CELLS", "ElmanCell", "ElmanRNN", "FitLength", "PredictionHead", "SequencePooling",
           "recurrent_layer", "recurrent_stack"]
