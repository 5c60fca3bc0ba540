"""Sign-in error codes (status.errorCode) sorted into the classes detections reason with.

Match on codes, never on the description text: Microsoft rewords failure reasons. The one
exception is 500121, whose status.additionalDetails says whether the MFA prompt was denied, left
unanswered or reported as fraud (the field reference lists the wording).

Classes (from the field reference's error-code table):
- credential failure: 50126 bad user/password, 50056 no password, 50064, 50034 user not found
  (enumeration), 120000. They count toward brute force and password spray.
- lockout: 50053 (Smart Lockout, or a block of a known-malicious IP); weighs more than a failure.
- disabled account: 50057.
- password expired: 50055, 50144. The password was correct: whoever got this knows it.
- MFA prompt: 50074, 50076, 50079, 50072. The password was correct and MFA was asked for; alone
  these are routine interrupts for the real user, not failures.
- blocked after password: 500121 (MFA denied or unanswered), 50158, 53003, 53000-53002, 50005,
  50131, 530032, 50097, 50155. The password was validated, the sign-in was not completed.
- interrupt: keep-me-signed-in, session expiry and other session life-cycle codes. Not failures.
- consent: 65001 (admin consent missing, never a credential attack), 90094, 90095, 50199.
- tokens revoked: 50173 (a revocation took effect).
"""

from __future__ import annotations

from enum import IntEnum


class ErrorClass(IntEnum):
    SUCCESS = 0
    CREDENTIAL_FAILURE = 1
    LOCKOUT = 2
    DISABLED_ACCOUNT = 3
    PASSWORD_EXPIRED = 4
    MFA_PROMPT = 5
    BLOCKED_AFTER_PASSWORD = 6
    INTERRUPT = 7
    CONSENT = 8
    TOKENS_REVOKED = 9
    OTHER = 10


MFA_DENIED = 500121

_CODES: dict[int, ErrorClass] = {
    0: ErrorClass.SUCCESS,
    **dict.fromkeys((50126, 50056, 50064, 50034, 120000), ErrorClass.CREDENTIAL_FAILURE),
    50053: ErrorClass.LOCKOUT,
    50057: ErrorClass.DISABLED_ACCOUNT,
    **dict.fromkeys((50055, 50144), ErrorClass.PASSWORD_EXPIRED),
    **dict.fromkeys((50074, 50076, 50079, 50072), ErrorClass.MFA_PROMPT),
    **dict.fromkeys(
        (500121, 50158, 53003, 53000, 53001, 53002, 50005, 50131, 530032, 50097, 50155),
        ErrorClass.BLOCKED_AFTER_PASSWORD,
    ),
    **dict.fromkeys(
        (50140, 50125, 70043, 70044, 50058, 16000, 16001, 16003, 700082, 50132, 50133, 51006,
         81010, 81012, 81014, 50089),
        ErrorClass.INTERRUPT,
    ),
    **dict.fromkeys((65001, 90094, 90095, 50199), ErrorClass.CONSENT),
    50173: ErrorClass.TOKENS_REVOKED,
}

_FAILURES = frozenset({ErrorClass.CREDENTIAL_FAILURE, ErrorClass.LOCKOUT})
_PASSWORD_KNOWN = frozenset(
    {ErrorClass.SUCCESS, ErrorClass.PASSWORD_EXPIRED, ErrorClass.BLOCKED_AFTER_PASSWORD}
)

# Codes whose class says "someone knew the password", the success code included.
PASSWORD_KNOWN_CODES = frozenset(code for code, cls in _CODES.items() if cls in _PASSWORD_KNOWN)
# Codes that count toward brute force and password spray.
FAILURE_CODES = frozenset(code for code, cls in _CODES.items() if cls in _FAILURES)
LOCKOUT_CODES = frozenset(code for code, cls in _CODES.items() if cls is ErrorClass.LOCKOUT)


# Prompts the real user meets every day: MFA required (50074, 50076, 50079, 50072), keep me signed
# in (50140), device authentication required or failed (50097, 50155, 50129), device compliance
# or join required by Conditional Access (53000, 53001) and external security challenge (50158).
# On its own such a sign-in proves nobody got in, and without a baseline little about anyone.
PROMPT_CODES = frozenset(
    {50074, 50076, 50079, 50072, 50140, 50097, 50155, 50129, 53000, 53001, 50158}
)


def is_prompt(code: int) -> bool:
    """An interrupt or prompt (MFA, keep me signed in, device or CA), not a completed sign-in."""
    return code in PROMPT_CODES


def error_class(code: int) -> ErrorClass:
    """The class of an error code; codes not in the table are OTHER (not failure, not success)."""
    return _CODES.get(code, ErrorClass.OTHER)


def is_failure(code: int) -> bool:
    """A credential failure or lockout: what brute force and spray count."""
    return code in FAILURE_CODES


def password_known(code: int) -> bool:
    """A success, or a code that is only reached after the password was validated.

    The routine MFA prompts (50074, 50076, 50079, 50072) are left out: alone they are the real
    user being asked for MFA. Callers that see one followed by a block treat it as validated.
    """
    return code in PASSWORD_KNOWN_CODES


def password_validated(code: int) -> bool:
    """The password was correct though the sign-in did not complete (MFA prompts included)."""
    cls = _CODES.get(code, ErrorClass.OTHER)
    return cls in (
        ErrorClass.PASSWORD_EXPIRED, ErrorClass.BLOCKED_AFTER_PASSWORD, ErrorClass.MFA_PROMPT
    )


def mfa_outcome(additional_details: str | None) -> str:
    """What a 500121 says happened to the prompt: "fraud", "denied", "unanswered" or "failed".

    The field reference names additionalDetails of 500121 as the one text worth reading.
    """
    text = (additional_details or "").lower()
    if "fraud" in text:
        return "fraud"
    # "MFA denied; user did not respond ..." also says "denied": look for no answer first.
    if any(words in text for words in ("not respond", "did not answer", "timed out", "timeout")):
        return "unanswered"
    if "declined" in text or "denied" in text:
        return "denied"
    return "failed"
