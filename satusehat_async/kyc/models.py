"""The typed KYC results; NIKs and names masked in their reprs."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from satusehat_async.consent.names import mask_name
from satusehat_async.redact import mask_nik

__all__ = ["ChallengeCode", "ValidationURL"]


@dataclass(frozen=True)
class ValidationURL:
    """The answer of ``generate-url``: the page where the patient verifies in SATUSEHAT
    Mobile, for the agent (officer) who asked.

    Attributes:
        token: the KYC token (the last part of ``url``).
        url: the validation web page to open.
        agent_name, agent_nik: the agent, as the server echoed them (masked in the repr).
    """

    token: str
    url: str
    agent_name: str = field(default="", repr=False)
    agent_nik: str = field(default="", repr=False)

    def __repr__(self) -> str:
        return (
            f"ValidationURL(url={self.url!r}, agent_name={mask_name(self.agent_name)!r}, "
            f"agent_nik={mask_nik(self.agent_nik)!r})"
        )


@dataclass(frozen=True)
class ChallengeCode:
    """The answer of ``challenge-code``: a code the patient enters in SATUSEHAT Mobile.

    Attributes:
        challenge_code: the code (6 digits), valid for 5 minutes.
        created, expires: when it was issued and when it expires (aware datetimes, in the
            ``+07:00`` WIB offset the platform answers with); None if the answer lacked one.
        ihs_number: the patient's IHS number.
        nik, name: the patient, as the server echoed them (masked in the repr).
    """

    challenge_code: str = field(repr=False)
    created: dt.datetime | None
    expires: dt.datetime | None
    ihs_number: str = ""
    nik: str = field(default="", repr=False)
    name: str = field(default="", repr=False)

    def expired(self, now: dt.datetime | None = None) -> bool:
        """Has the code expired (at ``now``, default the current time)?"""
        if self.expires is None:
            return False
        return (now or dt.datetime.now(dt.timezone.utc)) >= self.expires

    def __repr__(self) -> str:
        return (
            f"ChallengeCode(ihs_number={self.ihs_number!r}, expires={self.expires!r}, "
            f"nik={mask_nik(self.nik)!r}, name={mask_name(self.name)!r})"
        )
