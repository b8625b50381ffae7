"""The exceptions fastnorm raises beyond ValueError / TypeError."""


class FormatError(ValueError):
    """A model file is truncated, corrupt, inconsistent or hostile."""


class UnsupportedError(ValueError):
    """A model uses ops or attributes fastnorm does not run; the message lists every one."""


class FastnormWarning(UserWarning):
    """Something in a model is probably not what its author meant (see Model.doctor() for the fix)."""
