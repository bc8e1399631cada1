"""Concierge: a Telegram bot that routes hotel guests' requests to on-duty staff and follows up."""

__version__ = "0.1.0"
