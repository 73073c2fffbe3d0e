"""yc-responses: Yandex AI Studio's OpenAI-compatible API from Python.

::

    from yc_responses import YandexOpenAI

    client = YandexOpenAI()  # YC_API_KEY / YC_IAM_TOKEN and YC_FOLDER_ID
    print(client.responses.create(model="yandexgpt", input="Hi!").output_text)
"""

from .client import AsyncYandexOpenAI, YandexOpenAI
from .errors import ConfigurationError, YCResponsesError
from .settings import DEFAULT_BASE_URL, YandexSettings
from .uris import ModelURI, model_uri, parse_model_uri

__all__ = [
    "DEFAULT_BASE_URL",
    "AsyncYandexOpenAI",
    "ConfigurationError",
    "ModelURI",
    "YCResponsesError",
    "YandexOpenAI",
    "YandexSettings",
    "model_uri",
    "parse_model_uri",
]

__version__ = "0.1.0"
