from pydantic_settings import SettingsConfigDict

from rescue_chassis.settings import ServiceSettings


class SearchSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SEARCH_")
