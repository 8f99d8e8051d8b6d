"""Staff accounts for the agent console: hashed passwords, roles, sessions and presence."""

from assistant.staff.passwords import hash_password, verify_password
from assistant.staff.store import PERMISSIONS, ROLES, StaffSession, StaffStore, StaffUser

__all__ = [
    "PERMISSIONS",
    "ROLES",
    "StaffSession",
    "StaffStore",
    "StaffUser",
    "hash_password",
    "verify_password",
]
