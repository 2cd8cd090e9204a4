"""The PostgreSQL engine of `Store` (asyncpg): production and several processes on one database."""
