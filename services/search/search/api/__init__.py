from search.api.cases import overdue_router
from search.api.cases import router as cases
from search.api.clues import router as clues
from search.api.escalations import router as escalations
from search.api.faces import router as faces
from search.api.identity import router as identity
from search.api.intake_photos import router as intake_photos
from search.api.lookup import router as lookup
from search.api.notices import router as notices
from search.api.police import router as police
from search.api.reports import router as reports

routers = [cases, overdue_router, notices, police, clues, reports, identity, faces, lookup]
routers += [escalations, intake_photos]
