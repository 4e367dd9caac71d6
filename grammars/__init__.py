"""Command vocabularies, one JSON file per language (shipped as package data)."""
