"""The store: the database that is the single source of truth (the only package importing SQLAlchemy)."""
