"""Store layer: Alembic migrations of the schema (one revision per change of models.py)."""
