"""Settings for one X source: which account, which credentials, which query.

Credentials are passed in (from the environment or ``.streamlit/secrets.toml`` by the console) and
kept as :class:`~pydantic.SecretStr`, so they never show up in a ``repr`` or a log line.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

SourceKind = Literal["mentions", "search"]


class XConfig(BaseModel):
    """One X source.  ``mentions`` reads the brand's mention timeline; ``search`` runs ``query``.

    Attributes:
        brand_user_id: The brand account's numeric id (the mention timeline's owner).
        brand_handle: The brand's @handle, without the ``@``.
        other_brand_user_ids: Further accounts of the brand; their posts are stored as the brand's.
        bearer_token: App-only token for reading.
        consumer_key: User-context key (replies); with the three below, all or none.
        consumer_secret: User-context secret.
        access_token: The brand account's access token.
        access_token_secret: The brand account's access token secret.
        source: ``mentions`` or ``search``.
        query: The search query (required for ``search``), without ``lang:``/``-is:retweet``.
        languages: Restrict search to these languages (``lang:`` operators, OR-ed).
        exclude_retweets: Add ``-is:retweet`` to searches.
        max_results: Posts per page (X allows 5-100 on mentions, 10-100 on search).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    brand_user_id: str = Field(pattern=r"^\d{1,20}$")
    brand_handle: str = Field(min_length=1, max_length=15)
    other_brand_user_ids: tuple[str, ...] = ()
    bearer_token: SecretStr
    consumer_key: SecretStr | None = None
    consumer_secret: SecretStr | None = None
    access_token: SecretStr | None = None
    access_token_secret: SecretStr | None = None
    source: SourceKind = "mentions"
    query: str | None = None
    languages: tuple[str, ...] = ()
    exclude_retweets: bool = True
    max_results: int = Field(default=100, ge=10, le=100)

    @field_validator("brand_handle")
    @classmethod
    def _strip_at(cls, value: str) -> str:
        handle = value.removeprefix("@")
        if not handle.replace("_", "").isalnum():
            raise ValueError("must be letters, digits and underscores only")
        return handle

    @field_validator("languages")
    @classmethod
    def _check_languages(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for code in value:
            if not (code.isascii() and code.isalpha() and 2 <= len(code) <= 3):
                raise ValueError(f"{code!r} is not a language code such as 'en'")
        return tuple(code.lower() for code in value)

    @model_validator(mode="after")
    def _check_source(self) -> XConfig:
        if self.source == "search" and not (self.query and self.query.strip()):
            raise ValueError("query: required when source is 'search'")
        user_keys = (self.consumer_key, self.consumer_secret, self.access_token, self.access_token_secret)
        if any(key is not None for key in user_keys) and not all(key is not None for key in user_keys):
            raise ValueError(
                "consumer_key, consumer_secret, access_token and access_token_secret: give all four or none"
            )
        return self

    @property
    def brand_ids(self) -> frozenset[str]:
        """Every account id whose posts are the brand's own."""
        return frozenset((self.brand_user_id, *self.other_brand_user_ids))

    @property
    def can_reply(self) -> bool:
        """Whether user-context keys were given (replies need them)."""
        return self.access_token is not None

    def search_query(self) -> str:
        """The full search query: the user's query plus ``-is:retweet`` and ``lang:`` operators."""
        parts = [f"({self.query.strip()})" if self.query else ""]
        if self.exclude_retweets:
            parts.append("-is:retweet")
        if len(self.languages) == 1:
            parts.append(f"lang:{self.languages[0]}")
        elif self.languages:
            parts.append("(" + " OR ".join(f"lang:{code}" for code in self.languages) + ")")
        return " ".join(part for part in parts if part)
