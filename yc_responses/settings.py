"""Settings read from ``YC_*`` environment variables and a ``.env`` file."""

from __future__ import annotations

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_IAM_ENDPOINT",
    "DEFAULT_LLM_BASE_URL",
    "DEFAULT_OPERATION_BASE_URL",
    "YandexSettings",
]

DEFAULT_BASE_URL = "https://ai.api.cloud.yandex.net/v1"
DEFAULT_LLM_BASE_URL = "https://llm.api.cloud.yandex.net"
DEFAULT_OPERATION_BASE_URL = "https://operation.api.cloud.yandex.net"
DEFAULT_IAM_ENDPOINT = "https://iam.api.cloud.yandex.net/iam/v1/tokens"


class YandexSettings(BaseSettings):
    """Connection settings for Yandex AI Studio.

    Every field is read from a variable with the ``YC_`` prefix (``YC_API_KEY``,
    ``YC_IAM_TOKEN``, ``YC_FOLDER_ID``, ``YC_BASE_URL``, ...), first from the
    environment, then from a ``.env`` file in the working directory. Values
    passed to the constructor win over both::

        settings = YandexSettings()                      # environment, then .env
        settings = YandexSettings(folder_id="b1g...")    # explicit value wins
        settings = YandexSettings(_env_file="prod.env")  # another file

    Secrets are :class:`~pydantic.SecretStr`: they print as ``'**********'``. Whitespace
    around every value is dropped (a secret mounted as a file usually ends in a newline).
    """

    model_config = SettingsConfigDict(
        env_prefix="YC_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        frozen=True,
        str_strip_whitespace=True,
    )

    api_key: SecretStr | None = None
    """An API key of a service account (``YC_API_KEY``)."""

    iam_token: SecretStr | None = None
    """A short-lived IAM token (``YC_IAM_TOKEN``); give either this or an API key."""

    folder_id: str | None = None
    """The folder the requests are billed to (``YC_FOLDER_ID``)."""

    base_url: str = DEFAULT_BASE_URL
    """The OpenAI-compatible endpoint (``YC_BASE_URL``)."""

    llm_base_url: str = DEFAULT_LLM_BASE_URL
    """The host of the asynchronous ``completionAsync`` API (``YC_LLM_BASE_URL``)."""

    operation_base_url: str = DEFAULT_OPERATION_BASE_URL
    """The host polled for operations (``YC_OPERATION_BASE_URL``)."""

    service_account_key_file: str | None = None
    """An authorized key's JSON file, exchanged for IAM tokens (``YC_SERVICE_ACCOUNT_KEY_FILE``)."""

    iam_endpoint: str = DEFAULT_IAM_ENDPOINT
    """Where a service account's JWT is exchanged for an IAM token (``YC_IAM_ENDPOINT``)."""

    metadata_addr: str | None = None
    """``host[:port]`` of the metadata service; set it to use it (``YC_METADATA_ADDR``)."""

    token: SecretStr | None = None
    """An IAM token kept fresh by the platform, re-read before every request (``YC_TOKEN``)."""

    data_logging: bool = True
    """``false``: ask the service not to log request data (``YC_DATA_LOGGING``)."""
