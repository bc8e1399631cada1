"""Alembic migrations of the Concierge schema."""
