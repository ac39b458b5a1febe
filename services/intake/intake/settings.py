from pydantic import Field
from pydantic_settings import SettingsConfigDict

from rescue_chassis.settings import ServiceSettings


class IntakeSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="INTAKE_")

    long_hospital_stay_days: int = Field(
        default=30,
        ge=1,
        le=3650,
        description="A hospital placement open longer than this many days raises "
        "long_hospital_stay_reached once (the center looks into it).",
    )
