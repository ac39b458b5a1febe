from transfer.api.escalations import router as escalations
from transfer.api.escorts import router as escorts
from transfer.api.returns import router as returns

routers = [returns, escorts, escalations]
