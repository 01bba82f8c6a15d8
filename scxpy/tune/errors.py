"""The tuner's one error class: bad input, found before any guest boots."""

from scxpy.base.errors import ScxpyError


class TuneError(ScxpyError):
    """A tune that cannot start or go on: the message names the cause and the fix."""
