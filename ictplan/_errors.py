"""The whole ictplan exception and warning hierarchy (re-exported as ``ictplan.errors``).

Every error mixes in the builtin it refines, so ``except ValueError`` / ``except OSError``
keep working. Every message says what is wrong, what was seen and how to fix it.
"""

from __future__ import annotations

__all__ = [
    "IctplanError",
    "InputValidationError",
    "CRSError",
    "MissingCRSError",
    "CRSMismatchError",
    "GeographicCRSError",
    "CoordinateError",
    "GeometryTypeError",
    "MissingColumnError",
    "DuplicateIdError",
    "UnitLookupError",
    "AmbiguousNameError",
    "EmptyLayerError",
    "EncodingError",
    "DataSourceError",
    "MissingFileError",
    "NoDataInBoundsError",
    "NodataError",
    "NetworkError",
    "DisconnectedNetworkError",
    "ConfigError",
    "ProfileError",
    "OutputExistsError",
    "IctplanWarning",
    "RepairWarning",
    "NodataWarning",
    "SkippedFeaturesWarning",
]


class IctplanError(Exception):
    """Root of all ictplan errors."""


class InputValidationError(IctplanError, ValueError):
    """A layer or argument has content ictplan cannot use."""


class CRSError(InputValidationError):
    """A coordinate reference system problem."""


class MissingCRSError(CRSError):
    """A layer has no CRS."""


class CRSMismatchError(CRSError):
    """Two layers that must share a CRS do not."""


class GeographicCRSError(CRSError):
    """A metric operation was asked of lon/lat coordinates."""


class CoordinateError(InputValidationError):
    """Coordinates are out of range, swapped (lat/lon) or outside the study area."""


class GeometryTypeError(InputValidationError):
    """A layer holds the wrong kind of geometry."""


class MissingColumnError(InputValidationError, KeyError):
    """Required columns are missing (all of them are listed at once)."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


class DuplicateIdError(InputValidationError):
    """An id column holds duplicates."""


class UnitLookupError(InputValidationError, LookupError):
    """No administrative unit has the name or code asked for; ``candidates`` holds the
    nearest names (possibly none)."""

    def __init__(self, message: str, candidates: tuple = ()) -> None:
        super().__init__(message)
        self.candidates = tuple(candidates)


class AmbiguousNameError(UnitLookupError):
    """A name fits several administrative units: ``candidates`` holds them all; ictplan
    never picks one. Narrow the query (type prefix, province, district or code)."""


class EmptyLayerError(InputValidationError):
    """A layer has no features."""


class EncodingError(InputValidationError, UnicodeError):
    """Text is not UTF-8 (Vietnamese files often come in Windows-1258 or TCVN3)."""


class DataSourceError(IctplanError, OSError):
    """A file cannot be opened or read."""


class MissingFileError(DataSourceError, FileNotFoundError):
    """A file named in a call or a study does not exist."""


class NoDataInBoundsError(IctplanError, ValueError):
    """A raster or layer has nothing inside the area asked for."""


class NodataError(InputValidationError):
    """A raster has no nodata value but holds sentinel values (e.g. -9999, -3.4e38)."""


class NetworkError(IctplanError):
    """A problem with a routable network."""


class DisconnectedNetworkError(NetworkError):
    """The network is in pieces where one piece was needed."""


class ConfigError(IctplanError, ValueError):
    """A study, profile or targets file is invalid."""


class ProfileError(ConfigError):
    """A technology profile is missing or invalid."""


class OutputExistsError(IctplanError, FileExistsError):
    """An output exists and overwriting it was not allowed."""


class IctplanWarning(UserWarning):
    """Root of ictplan warnings."""


class RepairWarning(IctplanWarning):
    """Features were repaired (e.g. invalid geometry made valid); the count is in the message."""


class NodataWarning(IctplanWarning):
    """A raster nodata issue that ictplan handled."""


class SkippedFeaturesWarning(IctplanWarning):
    """Features were skipped; the count and the reason are in the message."""
