"""Mixture training data: real-music corpus, codec conditions and features."""
