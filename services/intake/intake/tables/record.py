"""The person's record beyond the basics, and care: photos, belongings, health
checks, outsourced care and its monitoring visits, the settlement procedure."""

from intake.tables.core import Base  # noqa: F401
