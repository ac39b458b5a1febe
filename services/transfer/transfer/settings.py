from pydantic_settings import SettingsConfigDict

from rescue_chassis.settings import ServiceSettings


class TransferSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="TRANSFER_")
