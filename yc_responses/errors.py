"""The exception family of yc-responses.

HTTP errors are not wrapped: they stay the official client's classes
(``openai.AuthenticationError``, ``openai.RateLimitError``, ...), so existing
``except`` clauses keep working. The classes here are for what the library itself
decides.
"""

from __future__ import annotations

import openai

__all__ = ["ConfigurationError", "YCResponsesError"]


class YCResponsesError(openai.OpenAIError):
    """Base class of every error raised by yc-responses itself."""


class ConfigurationError(YCResponsesError, ValueError):
    """The client is missing a setting, or was given contradictory ones.

    The message names what to pass or which ``YC_*`` variable to set.
    """
