"""Rasa custom actions: thin adapters from the tracker to the domain code in ``bot``."""
