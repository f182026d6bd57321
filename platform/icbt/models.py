"""Every model, imported so that ``Base.metadata`` is complete (Alembic, tests)."""
from icbt.audit.models import AuditEvent
from icbt.content.models import ModuleVersion
from icbt.db import Base
from icbt.intake.models import AssessedProfile, IntakeScreening
from icbt.pagecache import cache_versions
from icbt.measures.models import Administration, AdministrationAnswer, InstalledWording, RiskAlert
from icbt.messaging.models import (
    Conversation, Message, MessageDraft, Snippet, TherapistTimeCorrection, TherapistTimeDay,
)
from icbt.reports.models import ReportRun
from icbt.security.models import LoginThrottle, RecoveryCode, SecondFactor, UserSession
from icbt.treatment.models import Homework, ModulePlan, PageRead, PlanChange, PlanItem
from icbt.trials.allocation import Allocation
from icbt.trials.models import Participant, Trial
from icbt.users.models import User

__all__ = ["Base", "AuditEvent", "Participant", "Trial", "User"]
__all__ += ["ModuleVersion", "AssessedProfile", "IntakeScreening", "Allocation",
            "ModulePlan", "PlanItem", "PlanChange", "PageRead", "Homework"]
__all__ += ["Administration", "AdministrationAnswer", "InstalledWording", "RiskAlert"]
__all__ += ["LoginThrottle", "RecoveryCode", "SecondFactor", "UserSession"]
__all__ += ["Conversation", "Message", "MessageDraft", "Snippet", "TherapistTimeCorrection", "TherapistTimeDay"]
__all__ += ["ReportRun", "cache_versions"]
