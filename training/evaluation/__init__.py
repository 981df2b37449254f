"""Offline evaluation: detection metrics, thresholds, localization metrics."""
