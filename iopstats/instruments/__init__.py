"""Standardized instruments as data (:mod:`.rules`) and their scoring (:mod:`.scoring`)."""
