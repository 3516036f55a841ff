"""Persistence: tables, the database handle, migrations and one store module per table."""
