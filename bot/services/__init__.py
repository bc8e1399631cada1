"""Domain services: they take a session, plain values and ``now``, never a Telegram update."""
