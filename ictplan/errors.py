"""Public name of the error hierarchy (see :mod:`ictplan._errors`)."""

from ._errors import *  # noqa: F403
from ._errors import __all__  # noqa: F401
