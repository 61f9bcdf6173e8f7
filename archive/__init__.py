"""topic-archive's core: articles, the SQLite store, the Whoosh index, search and the topics."""

from .errors import ArchiveError, ArticleNotFound, IndexBusy, InvalidQuery
from .models import Article, Hit, IngestOutcome, SearchQuery, SearchResult, TopicScore
from .service import Archive

__all__ = [
    "Archive",
    "ArchiveError",
    "Article",
    "ArticleNotFound",
    "Hit",
    "IndexBusy",
    "IngestOutcome",
    "InvalidQuery",
    "SearchQuery",
    "SearchResult",
    "TopicScore",
]
