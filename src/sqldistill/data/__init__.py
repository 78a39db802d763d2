"""Prompt rendering, dataset formats, splits and run-directory manifests."""
