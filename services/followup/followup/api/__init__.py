from followup.api.figures import router as figures
from followup.api.help_tasks import router as help_tasks
from followup.api.inbound import router as inbound
from followup.api.ledger import router as ledger
from followup.api.partner_inbound import router as partner_inbound
from followup.api.register import router as register
from followup.api.repeat import router as repeat
from followup.api.revisits import router as revisits

routers = [ledger, revisits, help_tasks, register, repeat, figures, inbound, partner_inbound]
