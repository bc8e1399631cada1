"""Every text a reader sees, by audience: a renderer per notice kind (``bot.notices``).

``common`` holds the registry and what every audience shares (labels, durations, status
names, refusals); ``guest``, ``staff`` and ``supervisor`` the rest. Importing the package
registers them all.
"""

from __future__ import annotations

from bot.texts import guest, staff, supervisor
from bot.texts.common import RENDERERS, Rendering, Rows, render

__all__ = ["RENDERERS", "Rendering", "Rows", "guest", "render", "staff", "supervisor"]
