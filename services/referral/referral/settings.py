from pydantic_settings import SettingsConfigDict

from rescue_chassis.settings import ServiceSettings


class ReferralSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="REFERRAL_")

    # First retry of a failed webhook delivery; doubles each attempt, at most an hour.
    webhook_retry_base_seconds: float = 5.0
