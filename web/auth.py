"""Who is asking: HTTP Digest for API clients, a session cookie for the page.

Digest (RFC 7616, qop=auth): the server hands out nonces that expire after
`NONCE_LIFETIME` seconds (an answer to an expired nonce gets a new
challenge with ``stale=true``, not a failed login) and accepts each nonce
count once, so a captured request cannot be replayed. Challenges offer
SHA-256 and MD5. The password check itself is the firmware's
(`ApplianceService.login_digest`), which counts failures for the shared
lock-out. Basic credentials are never accepted over plain HTTP: a client
that sends them gets the Digest challenge, as real recorders answer.

Sessions: a login from the page's form gets a random token in a cookie
(HttpOnly, SameSite=Strict, Path=/) and a CSRF token the page sends back in
the ``X-CSRF-Token`` header with every state-changing request. A session
ends after the console's idle logout time without a request, or at logout.
"""
from __future__ import annotations

import hmac
import re
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass, field

from firmware.service import DIGEST_REALM, DigestAnswer

NONCE_LIFETIME = 300.0      # seconds a Digest nonce may be used
MAX_NONCES = 4096           # nonces remembered at once (oldest forgotten first)
MAX_SESSIONS = 64           # page sessions at once (oldest logged out first)
SESSION_COOKIE = "nvr_session"
CSRF_HEADER = "X-CSRF-Token"
DIGEST_ALGORITHMS = ("SHA-256", "MD5")   # in the order of preference the challenge offers them

_PARAM = re.compile(r'\s*([A-Za-z0-9_-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^,\s]*)\s*,?')


class Nonces:
    """Digest nonces this server issued, with their age and the highest nonce count seen."""

    def __init__(self, lifetime: float = NONCE_LIFETIME, clock=time.monotonic):
        self.lifetime = lifetime
        self._clock = clock
        self._issued: OrderedDict[str, tuple[float, int]] = OrderedDict()
        self.opaque = secrets.token_hex(16)

    def issue(self) -> str:
        nonce = secrets.token_hex(16)
        self._issued[nonce] = (self._clock(), 0)
        while len(self._issued) > MAX_NONCES:
            self._issued.popitem(last=False)
        return nonce

    def check(self, nonce: str, nc: str) -> str:
        """"ok", "stale" (expired or unknown: challenge again) or "replay" (count not increasing)."""
        entry = self._issued.get(nonce)
        if entry is None:
            return "stale"
        issued, last = entry
        if self._clock() - issued > self.lifetime:
            del self._issued[nonce]
            return "stale"
        try:
            count = int(nc, 16)
        except ValueError:
            return "replay"
        if count <= last:
            return "replay"
        self._issued[nonce] = (issued, count)
        return "ok"

    def challenges(self, stale: bool = False) -> list[str]:
        """The WWW-Authenticate header values: one Digest challenge per algorithm."""
        nonce = self.issue()
        extra = ", stale=true" if stale else ""
        return [f'Digest realm="{DIGEST_REALM}", qop="auth", algorithm={alg}, nonce="{nonce}", '
                f'opaque="{self.opaque}"{extra}' for alg in DIGEST_ALGORITHMS]


def parse_digest(header: str, method: str) -> DigestAnswer | None:
    """The Digest answer in an Authorization header, or None when it is not a well-formed one."""
    scheme, _, rest = header.strip().partition(" ")
    if scheme.lower() != "digest" or len(header) > 4096:
        return None
    params: dict[str, str] = {}
    pos = 0
    while pos < len(rest):
        m = _PARAM.match(rest, pos)
        if not m or m.end() == pos:
            return None
        value = m.group(2)
        if value.startswith('"'):
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        params[m.group(1).lower()] = value
        pos = m.end()
    required = ("username", "realm", "nonce", "uri", "response")
    if any(k not in params for k in required) or params.get("userhash", "false").lower() == "true":
        return None
    qop = params.get("qop", "")
    if qop != "auth" or not params.get("nc") or not params.get("cnonce"):
        return None  # only qop=auth: RFC 2069 answers without a client nonce are replayable
    algorithm = params.get("algorithm", "MD5")
    if algorithm.upper().removesuffix("-SESS") not in DIGEST_ALGORITHMS:
        return None
    return DigestAnswer(username=params["username"], realm=params["realm"], nonce=params["nonce"],
                        uri=params["uri"], response=params["response"], algorithm=algorithm, qop=qop,
                        nc=params["nc"], cnonce=params["cnonce"], method=method)


@dataclass
class Session:
    token: str
    csrf: str
    user: str
    last_seen: float = field(default_factory=time.monotonic)


class Sessions:
    """Page sessions in memory (a restart logs the page out, as it does the console)."""

    def __init__(self, idle_timeout: float, clock=time.monotonic):
        self.idle_timeout = idle_timeout
        self._clock = clock
        self._sessions: OrderedDict[str, Session] = OrderedDict()

    def create(self, user: str) -> Session:
        session = Session(secrets.token_urlsafe(32), secrets.token_urlsafe(32), user, self._clock())
        self._sessions[session.token] = session
        while len(self._sessions) > MAX_SESSIONS:
            self._sessions.popitem(last=False)
        return session

    def get(self, token: str | None) -> Session | None:
        """The live session for a cookie's token (its idle clock restarted), or None."""
        if not token:
            return None
        session = self._sessions.get(token)
        if session is None:
            return None
        now = self._clock()
        if now - session.last_seen > self.idle_timeout:
            del self._sessions[token]
            return None
        session.last_seen = now
        self._sessions.move_to_end(token)
        return session

    def end(self, token: str | None) -> None:
        if token:
            self._sessions.pop(token, None)

    @staticmethod
    def csrf_ok(session: Session, sent: str | None) -> bool:
        return bool(sent) and hmac.compare_digest(session.csrf.encode(), sent.encode())
