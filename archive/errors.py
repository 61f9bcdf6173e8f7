"""The one family of errors the archive raises; each carries a sentence fit to show a user."""


class ArchiveError(Exception):
    """Base of every error the archive raises on purpose."""


class InvalidQuery(ArchiveError, ValueError):
    """The search query cannot be read."""


class ArticleNotFound(ArchiveError, KeyError):
    """No article has the requested id."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else "article not found"


class IndexBusy(ArchiveError, TimeoutError):
    """Another writer held the index lock for longer than the configured timeout."""


class ExtractionError(ArchiveError, ValueError):
    """A source could not be turned into an article (empty, binary, no article text...)."""


class FetchError(ArchiveError, OSError):
    """A URL could not be fetched, or fetching it is not allowed; `status` and `retry_after` are the
    HTTP status and Retry-After header of an error answer, when there was one."""

    def __init__(self, message: str, status: int | None = None, retry_after: str | None = None) -> None:
        super().__init__(message)
        self.status, self.retry_after = status, retry_after

    def __str__(self) -> str:  # OSError would format its arguments
        return str(self.args[0]) if self.args else "the URL could not be fetched"


class ConfigError(ArchiveError, ValueError):
    """A setting has a value that cannot be used."""


class AccountError(ArchiveError):
    """A user or API token cannot be created, changed or found as asked."""


class InvalidCorrection(ArchiveError, ValueError):
    """A topic correction names no taxonomy topic or no known action."""


class SourceError(ArchiveError, ValueError):
    """A followed source cannot be added, found or changed as asked."""
