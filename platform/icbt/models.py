"""Every model, imported so that ``Base.metadata`` is complete (Alembic, tests)."""
from icbt.audit.models import AuditEvent
from icbt.db import Base
from icbt.measures.models import Administration, AdministrationAnswer, InstalledWording, RiskAlert
from icbt.reports.models import ReportRun
from icbt.trials.models import Participant, Trial
from icbt.users.models import User

__all__ = ["Base", "AuditEvent", "Participant", "Trial", "User",
           "Administration", "AdministrationAnswer", "InstalledWording", "RiskAlert", "ReportRun"]
