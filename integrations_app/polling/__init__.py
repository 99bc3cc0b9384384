"""Polling: turn upstream answers into current state, history and state changes."""
