"""Persistence of the history: every function takes a Session and writes or reads one concern."""
