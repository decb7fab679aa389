"""Keras layers of seqtasks: the Elman cell and RNN, the prediction head, preprocessing."""

from seqtasks.layers.captioner import Captioner
from seqtasks.layers.characters import CHARACTER_ENCODERS, CharacterCNN, CharacterRNN
from seqtasks.layers.elman import ElmanCell, ElmanRNN
from seqtasks.layers.head import PredictionHead
from seqtasks.layers.pieces import PieceEmbedding
from seqtasks.layers.pooling import SequencePooling
from seqtasks.layers.preprocessing import FitLength
from seqtasks.layers.seq2seq import Seq2Seq
from seqtasks.layers.stack import CELLS, backbone, recurrent_layer, recurrent_stack
from seqtasks.layers.text_decoder import TextDecoder
from seqtasks.layers.tokens import TextTokenizer, TokenIds, detokenize

__all__ = ["CELLS", "CHARACTER_ENCODERS", "Captioner", "CharacterCNN", "CharacterRNN",
           "ElmanCell", "ElmanRNN", "FitLength", "PieceEmbedding", "PredictionHead", "Seq2Seq",
           "SequencePooling", "TextDecoder", "TextTokenizer", "TokenIds", "detokenize",
           "backbone", "recurrent_layer", "recurrent_stack"]
