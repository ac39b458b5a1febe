from intake.api.burial import router as burial
from intake.api.care import router as care
from intake.api.hospital import router as hospital
from intake.api.incidents import router as incidents
from intake.api.leads import router as leads
from intake.api.partner_photos import router as partner_photos
from intake.api.persons import router as persons
from intake.api.record import router as record
from intake.api.refusals import router as refusals
from intake.api.settlement import router as settlement
from intake.api.station import router as station
from intake.api.stays import router as stays

routers = [
    persons,
    stays,
    incidents,
    station,
    leads,
    refusals,
    hospital,
    record,
    care,
    settlement,
    burial,
    partner_photos,
]
