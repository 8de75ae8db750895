"""Persistence: SQLAlchemy Core tables, repositories, migrations, the event inbox."""
