from summary.api.rebuilds import router as rebuilds
from summary.api.tables import router as tables

routers = [tables, rebuilds]
