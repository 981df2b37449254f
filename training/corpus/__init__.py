"""Corpus builders: real music (Debian packages) and real generator output (demo pages)."""
