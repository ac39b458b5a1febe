from pydantic_settings import SettingsConfigDict

from rescue_chassis.settings import ServiceSettings


class FollowupSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="FOLLOWUP_")
