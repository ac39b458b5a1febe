from pydantic_settings import SettingsConfigDict

from rescue_chassis.settings import ServiceSettings


class IntakeSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="INTAKE_")
