"""Exceptions raised by the seqtasks library.

Library code raises these; the CLI turns them into one clear line and a non-zero exit.
Each message says what was found, where (file:line or config key) and what was expected.
"""


#: Who is calling: ``"python"`` (the library) or ``"cli"`` (set by ``seqtasks``' command line),
#: so that an error names what the caller typed (see :func:`named`).
CALLER = "python"


def named(flag, argument):
    """How an error names an input: the CLI's ``flag`` (``--set``) on the command line, the
    Python ``argument`` (``overrides``) in a library call."""
    return flag if CALLER == "cli" else argument


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
