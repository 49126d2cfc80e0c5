"""The one base class of every error a user can cause and fix (bad config, data, input).

The step runner prints a :class:`UserError` as one line and exits 1; any other exception is
a bug and keeps its traceback.
"""

from __future__ import annotations

__all__ = ["UserError"]


class UserError(Exception):
    """A failure the user can fix; the message names the key, file or value and the fix."""
