"""Exceptions raised by the seqtasks library.

Library code raises these; the CLI turns them into one clear line and a non-zero exit.
Each message says what was found, where (file:line or config key) and what was expected.
"""


class SeqtasksError(Exception):
    """Base class of every error seqtasks reports to a user."""


class ConfigError(SeqtasksError):
    """A recipe configuration is invalid: unknown key, wrong type, bad value."""


class DataError(SeqtasksError):
    """Input data is missing, malformed or inconsistent."""


class TrainingSetError(DataError):
    """A fault of the training set as a whole, found while adapting on it; the recipe adds
    which set (its file or key) to the message."""


class ExportError(SeqtasksError):
    """An export directory is missing, incomplete or not a seqtasks export."""


class ClusterError(SeqtasksError):
    """A multi-worker cluster lost a worker, or its workers could not be started."""
