"""Every model, imported so that ``Base.metadata`` is complete (Alembic, tests)."""
from icbt.audit.models import AuditEvent
from icbt.db import Base
from icbt.measures.models import Administration, AdministrationAnswer, InstalledWording, RiskAlert
from icbt.messaging.models import (  # noqa: F401
    Conversation, Message, MessageDraft, Snippet, TherapistTimeCorrection, TherapistTimeDay,
)
from icbt.trials.models import Participant, Trial
from icbt.users.models import User

__all__ = ["Base", "AuditEvent", "Participant", "Trial", "User",
           "Administration", "AdministrationAnswer", "InstalledWording", "RiskAlert"]
