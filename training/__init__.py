"""Offline science that makes the shipped checkpoints; the service never imports it."""
