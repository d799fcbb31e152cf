"""SQLAlchemy models: importing this package registers every table on Base.metadata."""

from models.base import Base
from models.channel import ChannelKind, ChannelLink, ChannelStatus
from models.conversation import ConversationState
from models.flag import Flag
from models.invite import Invite
from models.job import Job, JobState
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
from models.young_person import YoungPerson

__all__ = [
    "Base",
    "ChannelKind",
    "ChannelLink",
    "ChannelStatus",
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
    "SenderKind",
    "StaffMember",
    "StaffRole",
    "StaffSession",
    "YoungPerson",
]
