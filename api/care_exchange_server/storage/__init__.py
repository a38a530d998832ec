"""Storage: SQLAlchemy models and the database engine. Alembic migrations change the schema."""
