"""Every event contract of the network; importing this module registers them all."""

from rescue_events.contracts.base import EventContract, PersonCategory
from rescue_events.contracts.followup import (
    AtRiskRegisteredV1,
    HelpTaskOpenedV1,
    RepeatWanderingFlaggedV1,
    RevisitMode,
    RevisitOverdueV1,
    RevisitRecordedV1,
    RiskAssessedV1,
    RiskLevel,
    Situation,
    StabilisationClosedV1,
    StabilisationOpenedV1,
)
from rescue_events.contracts.intake import ArrivalRoute, IdentityStatus, PersonAdmittedV1, Sex
from rescue_events.contracts.referral import PartnerType, ReferralOpenedV1
from rescue_events.contracts.search import (
    EarlierStayRecognisedV1,
    IdentificationMethod,
    IdentityConfirmedV1,
    SearchCaseOpenedV1,
)
from rescue_events.contracts.topics import (
    FOLLOWUP_EVENTS,
    INTAKE_EVENTS,
    REFERRAL_EVENTS,
    SEARCH_EVENTS,
    TRANSFER_EVENTS,
)
from rescue_events.contracts.transfer import (
    EscalationResolvedV1,
    EscortDepartedV1,
    EscortLegCompletedV1,
    EscortPlannedV1,
    HandoverRefusedV1,
    PersonHandedOverV1,
    ReceiverKind,
    ReturnNoticeIssuedV1,
    ReturnOpenedV1,
    TransportMode,
)

__all__ = [
    "AtRiskRegisteredV1",
    "EarlierStayRecognisedV1",
    "HelpTaskOpenedV1",
    "RepeatWanderingFlaggedV1",
    "RevisitMode",
    "RevisitOverdueV1",
    "RevisitRecordedV1",
    "RiskAssessedV1",
    "RiskLevel",
    "Situation",
    "StabilisationClosedV1",
    "ArrivalRoute",
    "EscalationResolvedV1",
    "EscortDepartedV1",
    "EscortLegCompletedV1",
    "EscortPlannedV1",
    "HandoverRefusedV1",
    "ReturnNoticeIssuedV1",
    "TransportMode",
    "EventContract",
    "FOLLOWUP_EVENTS",
    "INTAKE_EVENTS",
    "IdentificationMethod",
    "IdentityConfirmedV1",
    "IdentityStatus",
    "PartnerType",
    "PersonAdmittedV1",
    "PersonCategory",
    "PersonHandedOverV1",
    "REFERRAL_EVENTS",
    "ReceiverKind",
    "ReferralOpenedV1",
    "ReturnOpenedV1",
    "SEARCH_EVENTS",
    "SearchCaseOpenedV1",
    "Sex",
    "StabilisationOpenedV1",
    "TRANSFER_EVENTS",
]
