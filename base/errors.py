"""The base of every error a user can cause.

The CLI prints a ScxpyError as one clear message (cause and fix) and
exits non-zero; anything else is a bug and keeps its traceback.
"""


class ScxpyError(Exception):
    """An error with a message written for the user: what went wrong and how to fix it."""

    exit_status = 2
