"""What sdcadm never writes down: the values of secrets.

SAPI metadata carries passwords, tokens and private keys (`ufds_ldap_root_pw`,
`*_secret`, a PEM block under any name). The journal, history entries and the request log
copy documents and URLs that may hold them; each of those writers passes what it writes
through `redact` / `redact_url` first, so the rule lives here once.

Pure: no I/O. The configuration's `redact.keys` extends the rule for the whole process
(`configure`), because the writers do not all see the configuration.
"""
from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping
from typing import Any, Iterable
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

REDACTED = "[REDACTED]"

# Key patterns (shell globs, case-insensitive) whose values are secret wherever they appear.
DEFAULT_KEYS: tuple[str, ...] = (
    "*_pw", "*password*", "*passwd*", "*secret*", "*token*", "*private_key*",
)

# A PEM private key (RSA, EC, OPENSSH, ENCRYPTED, plain PKCS#8) is secret under any key.
_PEM_PRIVATE = re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----")


class Redactor:
    """The rule: key patterns, plus PEM private keys found in any string."""

    def __init__(self, extra_keys: Iterable[str] = ()) -> None:
        self.patterns = tuple(p.lower() for p in (*DEFAULT_KEYS, *extra_keys))
        # One expression for all patterns: a large datacenter's plan has a quarter of a
        # million keys (uuids among them), each tested once.
        self._match = re.compile("|".join(fnmatch.translate(p) for p in self.patterns),
                                 re.IGNORECASE).match
        self._decided: dict[str, bool] = {}

    def secret_key(self, key: Any) -> bool:
        if not isinstance(key, str):
            return False
        known = self._decided.get(key)
        if known is None:
            known = self._match(key) is not None
            if len(self._decided) < 10_000:  # the same few hundred names, mostly
                self._decided[key] = known
        return known

    def document(self, doc: Any) -> Any:
        """A copy of `doc` (JSON-like data) with every secret value replaced; `doc` itself
        is left alone (callers keep using it)."""
        decided = self._decided
        secret_key = self.secret_key

        # A large datacenter's plan is 15 MB of JSON: plain types are tested by identity
        # first, the abstract Mapping/Sequence checks only for what is left.
        def walk(v: Any) -> Any:
            t = type(v)
            if t is str:
                return REDACTED if "PRIVATE KEY-----" in v and _PEM_PRIVATE.search(v) else v
            if t in _SCALARS:
                return v
            if t is dict or isinstance(v, Mapping):
                out = {}
                for k, x in v.items():
                    hide = decided.get(k) if isinstance(k, str) else False
                    if hide is None:
                        hide = secret_key(k)
                    out[k] = REDACTED if hide and _has_value(x) else walk(x)
                return out
            if t is list or t is tuple:
                return [walk(x) for x in v]
            if isinstance(v, str):
                return walk(str(v))
            return v

        return walk(doc)

    def url(self, url: str) -> str:
        """`url` without a password in its user part nor values of secret query keys."""
        parts = urlsplit(url)
        netloc = parts.netloc
        if "@" in netloc:
            user, _, host = netloc.rpartition("@")
            name, sep, _password = user.partition(":")
            netloc = f"{name}:{REDACTED}@{host}" if sep else netloc
        query = parts.query
        if query:
            pairs = parse_qsl(query, keep_blank_values=True)
            if any(self.secret_key(k) for k, _ in pairs):
                query = urlencode([(k, REDACTED if self.secret_key(k) else v)
                                   for k, v in pairs], safe="[]")
        if (netloc, query) == (parts.netloc, parts.query):
            return url
        return urlunsplit(parts._replace(netloc=netloc, query=query))


_SCALARS = frozenset({int, float, bool, type(None)})


def _has_value(v: Any) -> bool:
    """Whether there is anything to hide: `"password": null` or `""` says nothing."""
    return v is not None and v != ""


_current = Redactor()


def configure(extra_keys: Iterable[str]) -> None:
    """Use the configuration's extra key patterns for every document written from now on."""
    global _current
    _current = Redactor(extra_keys)


def redact(doc: Any) -> Any:
    return _current.document(doc)


def redact_url(url: str) -> str:
    return _current.url(url)
