"""SQLAlchemy models: importing this package registers every table on Base.metadata."""

from models.alert import Alert, AlertAction, DutyShift, SafetyPlan
from models.appointment import Appointment, AppointmentAnswer, AppointmentStatus
from models.audit import AuditEvent
from models.canned_reply import CannedReply
from models.base import Base
from models.channel import ChannelKind, ChannelLink, ChannelStatus
from models.checkin import CheckIn, CheckInSchedule, CheckInSource
from models.conversation import ConversationState
from models.flag import Flag
from models.invite import Invite
from models.job import Job, JobState
from models.missing import MissingEpisode
from models.placement import PlacementMove
from models.rollup import DashboardView, MessageWeek, ReplyWait, RollupMark, WellbeingScore
from models.note import Note
from models.message import (
    ContentKind,
    DeliveryStatus,
    Direction,
    InboundReceipt,
    MediaBlob,
    Message,
    SenderKind,
)
from models.staff import StaffMember, StaffRole, StaffSession
from models.team import Handover, LeavePeriod, TeamMember
from models.undelivered import UndeliveredUpdate
from models.young_person import YoungPerson
from models.wellbeing import ResponseStatus, WellbeingAnswer, WellbeingPlan, WellbeingResponse

__all__ = [
    "AuditEvent",
    "CannedReply",
    "Note",
    "Appointment",
    "AppointmentAnswer",
    "AppointmentStatus",
    "Alert",
    "AlertAction",
    "DutyShift",
    "SafetyPlan",
    "Base",
    "ChannelKind",
    "ChannelLink",
    "ChannelStatus",
    "CheckIn",
    "CheckInSchedule",
    "CheckInSource",
    "ContentKind",
    "ConversationState",
    "DeliveryStatus",
    "Direction",
    "Flag",
    "InboundReceipt",
    "Invite",
    "Job",
    "JobState",
    "MediaBlob",
    "Message",
    "MissingEpisode",
    "DashboardView",
    "MessageWeek",
    "ReplyWait",
    "RollupMark",
    "PlacementMove",
    "SenderKind",
    "StaffMember",
    "StaffRole",
    "StaffSession",
    "Handover",
    "LeavePeriod",
    "TeamMember",
    "UndeliveredUpdate",
    "YoungPerson",
    "ResponseStatus",
    "WellbeingAnswer",
    "WellbeingPlan",
    "WellbeingResponse",
    "WellbeingScore",
]
