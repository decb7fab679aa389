"""Subword vocabularies: learned with SentencePiece, applied in the graph by TF Text.

A subword model is learned from the training stream (:func:`learn`) and kept, serialized, in
the configuration of the :class:`~seqtasks.layers.TextTokenizer` that applies it, so a
``.keras`` file and an export carry it. In the graph, tensorflow-text's
``SentencepieceTokenizer`` splits text into pieces; ``"\u2581"`` marks a piece that starts a
word, so joining the pieces and turning the marks back into spaces gives the text back.

Exports that use it need TF Text's ops: ``import tensorflow_text`` before
``tf.saved_model.load``; stock TF Serving links them.
"""

import base64
import contextlib
import os
import pickle
import tempfile

#: ``data.subword_type`` -> SentencePiece's ``model_type``.
MODEL_TYPES = ("unigram", "bpe")
#: At most this many sentences (a random sample of the stream) train the model.
MAX_SENTENCES = 2_000_000


def learn(texts, vocab_size, model_type="unigram", symbols=()):
    """A SentencePiece model of ``vocab_size`` pieces learned from ``texts`` (an iterable of
    already normalized strings, read once), serialized as a base64 ``str``.

    Every character of the training texts gets a piece (``character_coverage`` 1.0), so no
    training text has unknown pieces; on small data the vocabulary may stay smaller than
    ``vocab_size`` (SentencePiece's soft limit). ``symbols`` are pieces of their own, never
    split (a language model's line-end token)."""
    import io

    import sentencepiece

    if model_type not in MODEL_TYPES:
        raise ValueError(f"`model_type` must be one of {MODEL_TYPES}. Received: {model_type!r}")
    model = io.BytesIO()
    lines = (" ".join(t.split()) for t in texts)
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=(line for line in lines if line), model_writer=model,
        vocab_size=vocab_size, model_type=model_type, character_coverage=1.0,
        hard_vocab_limit=False, input_sentence_size=MAX_SENTENCES,
        shuffle_input_sentence=True, num_threads=os.cpu_count() or 1, minloglevel=2,
        user_defined_symbols=list(symbols))
    return base64.b64encode(model.getvalue()).decode("ascii")


def tokenizer(model):
    """TF Text's in-graph tokenizer of a :func:`learn` model, giving string pieces.

    Its model resource is shared by name, the name a hash of the model: TF Text names none,
    and then two tokenizers of different models in one graph (translation's source and
    target sides) both tokenize with one of the models once the SavedModel is loaded."""
    import hashlib

    import tensorflow as tf
    import tensorflow_text
    from tensorflow_text.python.ops import sentencepiece_tokenizer as ops

    class NamedModel(ops._SentencepieceModelResource):
        def _create_resource(self):
            digest = hashlib.sha256(self._model).hexdigest()[:24]
            return ops.gen_sentencepiece_tokenizer.sentencepiece_op(
                model=self._model, shared_name=f"seqtasks_sentencepiece_{digest}")

    model = base64.b64decode(model)
    pieces = tensorflow_text.SentencepieceTokenizer(model=model, out_type=tf.string)
    pieces._model_resource = NamedModel(model, None)
    return pieces


@contextlib.contextmanager
def learned(examples, sides, vocab_size, model_type="unigram"):
    """Learn the subword model of each subword-level tokenizer of ``sides`` (``[(tokenizer,
    example -> its texts)]``) from ``examples`` (any iterable, read once), and yield what
    reads them again: the examples spooled to disk when a model was learned, ``examples``
    themselves when no tokenizer is at the subword level."""
    learners = [(t, texts) for t, texts in sides if t.level == "subword"]
    if not learners:
        yield examples
        return
    with spooled(examples) as spool:
        for tokenizer, texts in learners:
            tokenizer.learn_subwords((text for e in spool for text in texts(e)), vocab_size,
                                     model_type)
        yield spool


@contextlib.contextmanager
def spooled(examples):
    """Read ``examples`` (any iterable, read once) into a temporary file and yield a
    re-iterable over them, so that a subword model can be learned in one pass and the
    vocabulary counted in another without holding the corpus in memory."""
    with tempfile.TemporaryFile() as file:
        count = 0
        for example in examples:
            pickle.dump(example, file, protocol=pickle.HIGHEST_PROTOCOL)
            count += 1
        yield _Spool(file, count)


class _Spool:
    def __init__(self, file, count):
        self.file, self.count = file, count

    def __len__(self):
        return self.count

    def __iter__(self):
        self.file.seek(0)
        for _ in range(self.count):
            yield pickle.load(self.file)
