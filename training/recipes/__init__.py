"""Training recipes, one module a detector."""
