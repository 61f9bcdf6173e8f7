"""topic-archive's core: articles, the SQLite store, the Whoosh index, search and the topics."""

from .errors import AccountError, ArchiveError, ArticleNotFound, IndexBusy, InvalidCorrection, InvalidQuery
from .models import Article, Hit, IngestOutcome, SearchQuery, SearchResult, TopicScore
from .service import Archive

__all__ = [
    "AccountError",
    "Archive",
    "ArchiveError",
    "Article",
    "ArticleNotFound",
    "Hit",
    "IndexBusy",
    "IngestOutcome",
    "InvalidCorrection",
    "InvalidQuery",
    "SearchQuery",
    "SearchResult",
    "TopicScore",
]
