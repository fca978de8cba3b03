"""Errors that are the user's to fix, the interruption that keeps results, and the edge warning.

The CLI turns every :class:`HpsearchError` (and ``ValueError`` raised while a
study is being configured) into a one-line message and exit status 2.
"""


#: How a study that cannot resume is started anew, in the CLI's words and in Python's.
START_OVER = "use another study name (--name; name=... in Python) or start over (--overwrite; overwrite=True)"


class HpsearchError(Exception):
    """A mistake in the user's input: a study file, a storage, an argument.

    The message is one line that names the file, key or parameter and what is
    wrong with it.
    """


class StudyFileError(HpsearchError, ValueError):
    """A study file that cannot be used: syntax, unknown key, bad value."""


class StorageError(HpsearchError):
    """A storage file that is not an hpsearch database, or is damaged."""


class UnsafePathError(StorageError):
    """A symbolic link where a run folder holds its own files: hpsearch never follows one."""


class StudyMismatchError(HpsearchError):
    """A study name that exists in the storage with other settings."""


class StudyLockedError(HpsearchError):
    """Another live process is running the same study on the same storage."""


class StudyMetricError(HpsearchError):
    """The objective does not return the study's metric (as a number): the metric name is wrong."""


class StudyFailedError(HpsearchError):
    """A study that cannot produce a result: its first trials all failed with one error.

    The CLI exits with status 1 (the study ran but produced nothing), not 2.
    """


class StudyInterrupted(KeyboardInterrupt):
    """Ctrl-C during a search: dispatch stopped, finished trials kept.

    Subclasses ``KeyboardInterrupt`` so scripts stop as usual; ``result`` holds
    the :class:`~hpsearch.results.search_result.SearchResult` of the trials that finished.
    """

    def __init__(self, result=None, message="study interrupted"):
        super().__init__(message)
        self.result = result


class EdgeWarning(UserWarning):
    """A search's ranges may be too narrow (an edge the good trials crowd toward), or the search
    was too small to test that: what hpsearch's scikit-learn estimators warn about (each flag of
    ``boundary_``, and a study too small for the edge test in one warning). A ``UserWarning``, so
    ``warnings.simplefilter("ignore", hpsearch.EdgeWarning)`` silences exactly these.
    """
