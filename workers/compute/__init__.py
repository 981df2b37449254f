"""Pure computation: audio in, frozen results out; no Celery, no database."""
