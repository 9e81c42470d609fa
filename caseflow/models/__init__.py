"""caseflow's SQLAlchemy models, one module per aggregate; import them from here."""
from .analysis import AssessmentConfig, CaseFact, ScoringRule, StoredReport
from .attachment import ATTACHMENT_KINDS, Attachment
from .base import Base, utcnow
from .calendar import CalendarOverride
from .case import CHANNELS, Case
from .case_parts import CaseParticipant, CaseReporter, Supervision, TimeLimit
from .category import TIERS, Category
from .deadline import Deadline, EscalationNotice, EscalationRun, Notification
from .duty import (
    DutyAssignment,
    DutyLogEntry,
    DutyShift,
    EmergencyPeriod,
    Handover,
    HandoverItem,
    RollCall,
    SwapRequest,
)
from .duty_rules import PERIOD_KINDS, DutyCenterRule, DutySpecialPeriod
from .geo import AREA_KINDS, Area, Grid
from .idempotency import IdempotencyKey
from .instruction import SEVERITIES, Instruction
from .item import WorkflowItem
from .ledger import AccessDenial, LedgerEntry
from .numbering import CaseNumberCounter
from .org import ActionGroup, Center, Department, LeaderPosition
from .people import CLIENT_KINDS, ROLES, ApiToken, Person, PersonRole
from .regulation import REGULATION_KINDS, Regulation
from .returns import BASIS_KINDS, ReturnRequest

ITEM_MODELS: dict[str, type[WorkflowItem]] = {
    m.item_type: m for m in (Case, Instruction, ReturnRequest, DutyShift, Handover, RollCall)
}

__all__ = [
    "ATTACHMENT_KINDS", "Attachment",
    "AssessmentConfig", "CaseFact", "ScoringRule", "StoredReport",
    "AREA_KINDS", "CHANNELS", "CLIENT_KINDS", "ITEM_MODELS", "ROLES", "SEVERITIES", "TIERS",
    "AccessDenial", "ActionGroup", "CalendarOverride", "ApiToken", "Area", "Base", "Case", "Category", "Center",
    "Deadline", "Department", "DutyShift", "EscalationNotice", "EscalationRun", "Grid", "Handover",
    "Instruction", "LeaderPosition", "LedgerEntry", "Notification", "Person", "PersonRole",
    "ReturnRequest", "WorkflowItem", "utcnow",
    "BASIS_KINDS", "REGULATION_KINDS", "Regulation",
    "CaseParticipant", "CaseReporter", "Supervision", "TimeLimit",
    "IdempotencyKey",
    "CaseNumberCounter",
    "DutyAssignment", "DutyLogEntry", "EmergencyPeriod", "HandoverItem", "RollCall", "SwapRequest",
    "PERIOD_KINDS", "DutyCenterRule", "DutySpecialPeriod",
]
