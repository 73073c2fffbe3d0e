"""yc-responses: Yandex AI Studio's OpenAI-compatible API from Python.

::

    from yc_responses import YandexOpenAI

    client = YandexOpenAI()  # YC_API_KEY / YC_IAM_TOKEN and YC_FOLDER_ID
    print(client.responses.create(model="yandexgpt", input="Hi!").output_text)

    # a long generation in the background: waits well, returns a typed result
    print(client.background.run(model="yandexgpt", input="Summarise ...").unwrap())

    # thousands of them, resumable after a crash
    results = client.background.map(prompts, model="yandexgpt", journal="batch.sqlite")
"""

from .background import (
    AsyncBackground,
    AsyncBackgroundRun,
    Background,
    BackgroundRun,
    StatusCallback,
    WaitStrategy,
    background,
)
from .batch import BatchError, BatchProgress
from .client import AsyncYandexOpenAI, YandexOpenAI
from .config import YandexConfig
from .deferred import (
    AsyncDeferred,
    AsyncOperationRun,
    Deferred,
    Operation,
    OperationResult,
    OperationRun,
)
from .errors import (
    AmbiguousSubmissionError,
    ConfigurationError,
    RunCancelledError,
    RunFailedError,
    RunIncompleteError,
    RunLookupError,
    RunNotCompletedError,
    RunTimeoutError,
    ServiceUnreachableError,
    UnexpectedStatusError,
    YCResponsesError,
)
from .journal import Journal, JournalError, JournalInUseError, JournalMismatchError
from .polling import PollPolicy
from .quotas import Quotas
from .results import (
    AnyRunResult,
    Cancelled,
    Completed,
    ErrorDetails,
    Failed,
    Incomplete,
    RunResult,
)
from .settings import DEFAULT_BASE_URL, YandexSettings
from .status import RunStatus
from .uris import ModelURI, model_uri, parse_model_uri

__all__ = [
    "DEFAULT_BASE_URL",
    "AmbiguousSubmissionError",
    "AnyRunResult",
    "AsyncBackground",
    "AsyncBackgroundRun",
    "AsyncDeferred",
    "AsyncOperationRun",
    "AsyncYandexOpenAI",
    "Background",
    "BackgroundRun",
    "BatchError",
    "BatchProgress",
    "Cancelled",
    "Completed",
    "ConfigurationError",
    "Deferred",
    "ErrorDetails",
    "Failed",
    "Incomplete",
    "Journal",
    "JournalError",
    "JournalInUseError",
    "JournalMismatchError",
    "ModelURI",
    "Operation",
    "OperationResult",
    "OperationRun",
    "PollPolicy",
    "Quotas",
    "RunCancelledError",
    "RunFailedError",
    "RunIncompleteError",
    "RunLookupError",
    "RunNotCompletedError",
    "RunResult",
    "RunStatus",
    "RunTimeoutError",
    "ServiceUnreachableError",
    "StatusCallback",
    "UnexpectedStatusError",
    "WaitStrategy",
    "YCResponsesError",
    "YandexConfig",
    "YandexOpenAI",
    "YandexSettings",
    "background",
    "model_uri",
    "parse_model_uri",
]

__version__ = "0.1.0"
