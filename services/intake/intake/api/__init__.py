from intake.api.incidents import router as incidents
from intake.api.persons import router as persons
from intake.api.station import router as station
from intake.api.stays import router as stays

routers = [persons, stays, incidents, station]
