"""The one error the format parsers raise."""

from __future__ import annotations

from luna_iems.errors import InvalidInputError


class FormatError(InvalidInputError):
    """Input in a meter or market format could not be decoded.

    The message names what is wrong in terms the sender can act on (which CRC, which element, which
    field); `details` carries the format name and, where known, the offending field or values.
    A subclass of `InvalidInputError`, so the API answers 422 `invalid_input`.
    """
