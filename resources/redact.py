"""Mask secrets in text before it leaves the process.

Dagster stores metadata, logs and error messages in its event log and shows them to everyone who can open the
UI, so a password that reaches one of them is disclosed for as long as the run history is kept. Call `redact` on
any text that may carry one (a connection URI, a driver's error message, a rendered statement) before it becomes
metadata, a log line or an exception message; raise the redacted error `from None`, or the original exception,
secret included, travels along as its cause.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import quote, unquote, urlsplit

MASK = "***"

# scheme://user:password@host — the password of any URL (user may be empty); a '/' ends the authority, so
# http://host:8080/a@b is left alone.
_URL_PASSWORD = re.compile(r"(?P<head>\b[A-Za-z][A-Za-z0-9+.-]*://[^\s/@:]*:)[^\s/@]+(?=@)")
# key=value, key: value, 'key' = 'value', "key": "value" where the key names a password, secret, token or API key
# (libpq conninfo, Flink SQL WITH options, YAML, JSON, environment dumps).
_KEY_VALUE = re.compile(
    r"""(?P<head>["']?[\w.-]*(?:password|passwd|secret|token|api[_-]?key)[\w.-]*["']?[ \t]*[:=][ \t]*)"""
    r"""(?:"(?P<dq>[^"]*)"|'(?P<sq>[^']*)'|(?P<bare>[^\s"',;&)}\]]+))""",
    re.IGNORECASE,
)


def redact(text: str, secrets: Iterable[str | None] = ()) -> str:
    """`text` with every password of a `scheme://user:password@` URL, every value of a password-, secret-, token-
    or API-key-named key, and every occurrence of a known secret (raw or percent-encoded) replaced by MASK.

    `secrets` are the values to mask: plain values, or URLs whose password is the secret (pass PG_URL itself).
    Empty and None items are skipped. A known secret is masked where no letter or digit touches it, so a password
    `p` hides in `u:p@h` but leaves `superset` alone."""
    forms = sorted({form for value in secrets if value for form in _forms(value) if form}, key=len, reverse=True)
    if forms:
        text = re.sub(f"(?<![A-Za-z0-9])(?:{'|'.join(map(re.escape, forms))})(?![A-Za-z0-9])", MASK, text)
    text = _URL_PASSWORD.sub(lambda m: m["head"] + MASK, text)
    return _KEY_VALUE.sub(_mask_value, text)


def _forms(value: str) -> set[str]:
    """How a secret may be spelled in text: raw and percent-encoded; for a URL with a password, its password."""
    try:
        password = urlsplit(value).password if "://" in value else None
    except ValueError:  # e.g. an invalid port: then it is just a value
        password = None
    secret = unquote(password) if password else value
    return {secret, quote(secret, safe=""), password or secret}


def _mask_value(match: re.Match) -> str:
    if match["dq"] is not None:
        return f'{match["head"]}"{MASK}"'
    if match["sq"] is not None:
        return f"{match['head']}'{MASK}'"
    return match["head"] + MASK
