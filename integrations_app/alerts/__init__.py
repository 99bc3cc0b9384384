"""Alerts: group notify-worthy state changes into emails to the admins, and deliver them."""
