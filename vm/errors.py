from scxpy.base.errors import ScxpyError


class VmError(ScxpyError):
    """The guest could not be booted or did not finish."""


class KernelError(VmError):
    """The guest kernel could not be built, found or used."""
