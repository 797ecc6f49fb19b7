"""Client preference cards: the database, its schema and the operations on it."""
