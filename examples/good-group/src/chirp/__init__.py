"""Chirp: nearest-centroid classification of synthetic bird calls."""
