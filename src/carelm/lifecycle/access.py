"""Access policy as data: roles, the permissions each role holds, and the principals that act.

The table ``ROLE_PERMISSIONS`` is the one place that says who may do what; the service layer checks it
(``carelm.service.access.require``) for the API and the CLI alike.  Two permissions touch PHI directly
(``records.read_raw`` and ``records.reidentify``): whoever holds them must also state a purpose on every
use (break-glass), and the purpose goes to the audit log with the access.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from carelm.core.errors import InputError


class Role(StrEnum):
    ADMIN = "admin"
    CLINICIAN = "clinician"
    RESEARCHER = "researcher"
    AUDITOR = "auditor"
    SERVICE = "service"


class Permission(StrEnum):
    RECORDS_READ = "records.read"  # records, de-identified text, annotations, codes, summaries, record search
    RECORDS_READ_RAW = "records.read_raw"  # the original note text (PHI); needs a purpose
    RECORDS_REIDENTIFY = "records.reidentify"  # real values behind surrogates (PHI); needs a purpose
    RECORDS_WRITE = "records.write"  # ingest
    RECORDS_PROCESS = "records.process"  # run pipelines, build the records index
    TEXT_PROCESS = "text.process"  # de-identify or extract text sent with the request (nothing stored is read)
    KNOWLEDGE_READ = "knowledge.read"  # knowledge graph, reasoning, literature search, closed-form QA
    KNOWLEDGE_WRITE = "knowledge.write"  # load the knowledge graph, index literature
    MODELS_USE = "models.use"  # predict, chat completions, list served models
    MODELS_TRAIN = "models.train"  # train, distil, evaluate, export, register
    AUDIT_READ = "audit.read"  # read and verify the audit trail
    ACCESS_MANAGE = "access.manage"  # principals and API keys


P = Permission
ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset(Permission),
    Role.CLINICIAN: frozenset({P.RECORDS_READ, P.RECORDS_READ_RAW, P.RECORDS_REIDENTIFY, P.TEXT_PROCESS,
                               P.KNOWLEDGE_READ, P.MODELS_USE}),
    Role.RESEARCHER: frozenset({P.RECORDS_READ, P.TEXT_PROCESS, P.KNOWLEDGE_READ, P.MODELS_USE, P.MODELS_TRAIN}),
    Role.AUDITOR: frozenset({P.AUDIT_READ}),
    Role.SERVICE: frozenset({P.RECORDS_WRITE, P.RECORDS_PROCESS, P.TEXT_PROCESS}),
}

# Holding these is not enough: each use must state why (break-glass), and the reason is audited.
PURPOSE_REQUIRED: frozenset[Permission] = frozenset({P.RECORDS_READ_RAW, P.RECORDS_REIDENTIFY})
MAX_PURPOSE_CHARS = 300  # the audit log's purpose column

NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9._@-]{0,63}")
LOCAL_PREFIX = "local:"  # the local operator's names; ':' is never in a principal's name


@dataclass(frozen=True, slots=True)
class Principal:
    """Who acts: a stored principal authenticated by an API key, or the local operator of the CLI.

    ``role`` is None for a caller that has not authenticated: it holds no permission.
    """

    name: str
    role: Role | None
    id: str | None = None
    key_id: str | None = None

    @property
    def authenticated(self) -> bool:
        return self.role is not None

    def may(self, permission: Permission) -> bool:
        return self.role is not None and permission in ROLE_PERMISSIONS[self.role]


ANONYMOUS = Principal("anonymous", None)


def parse_role(value: str) -> Role:
    """The role named ``value``; an InputError lists the accepted roles."""
    try:
        return Role(value.strip().lower())
    except ValueError:
        raise InputError(f"unknown role {value!r}; accepted: {', '.join(r.value for r in Role)}",
                         location="role") from None


def check_name(name: str) -> str:
    """A principal's name: 1-64 of a-z 0-9 . _ @ -, starting with a letter or digit."""
    if not NAME_PATTERN.fullmatch(name):
        raise InputError(f"invalid principal name {name!r}: use 1-64 characters of a-z, 0-9, '.', '_', '@', '-', "
                         "starting with a letter or digit", location="name")
    return name


def clean_purpose(purpose: str | None) -> str | None:
    """The stated purpose trimmed (None when blank); too long a purpose is an InputError."""
    if purpose is None or not purpose.strip():
        return None
    purpose = " ".join(purpose.split())
    if len(purpose) > MAX_PURPOSE_CHARS:
        raise InputError(f"purpose is longer than {MAX_PURPOSE_CHARS} characters", location="purpose")
    return purpose


def roles_with(permission: Permission) -> list[str]:
    """The roles holding ``permission``, for messages that say who may."""
    return [role.value for role, held in ROLE_PERMISSIONS.items() if permission in held]
