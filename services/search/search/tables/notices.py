"""Search tables: notices."""

from search.tables.core import Base  # noqa: F401

__all__: list[str] = []
