from pydantic_settings import SettingsConfigDict

from rescue_chassis.settings import ServiceSettings


class ReferralSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="REFERRAL_")
