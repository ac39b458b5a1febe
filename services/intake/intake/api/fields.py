"""Field types and the description of a person that several requests share."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictInt

from rescue_events.contracts import PersonCategory, Sex

Text = Annotated[str, Field(min_length=1, max_length=100)]
Place = Annotated[str, Field(min_length=1, max_length=300)]


class PersonDescription(BaseModel):
    """What staff can tell of a person before anyone knows who they are."""

    model_config = ConfigDict(extra="forbid")

    sex: Sex = Field(description="male, female, or unknown.")
    estimated_age: StrictInt | None = Field(
        default=None, ge=0, le=120, description="Age as staff estimate it.", examples=[61]
    )
    stated_names: list[Text] = Field(
        default_factory=list,
        max_length=20,
        description="Names the person gives (homophones welcome), as said.",
        examples=[["王建国", "老王"]],
    )
    stated_places: list[Place] = Field(
        default_factory=list,
        max_length=20,
        description="Places the person names: home, villages, where they worked.",
        examples=[["四川省南充市", "王家沟"]],
    )
    dialect: Text | None = Field(
        default=None, description="The dialect staff hear (闻).", examples=["四川话"]
    )
    physical_description: Annotated[str, Field(max_length=2000)] | None = Field(
        default=None,
        description="Height, build, marks, clothing: for search and face comparison.",
        examples=["身高约170cm，偏瘦，左手背有疤痕，穿灰色棉袄"],
    )
    categories: list[PersonCategory] = Field(
        default_factory=list,
        max_length=9,
        description="Categories that change care and referrals: minor, elderly, disabled, "
        "mental_illness, dementia, pregnant, domestic_violence_victim, "
        "suspected_trafficking, coerced_begging.",
    )
