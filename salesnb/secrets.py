"""Secrets in params: never printed, logged or written to an executed notebook.

A key named like a password, secret or token, a URL with credentials and a ``password=``
pair in a connection string count as secrets. ``${NAME}`` in any params text reads the
environment variable ``NAME`` (:func:`expand_env`, used by the loader); a secret written in
a params file is passed to the notebooks the same way (:func:`hide_secrets`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote

__all__ = ["redact", "redact_text", "secret_values", "hide_secrets", "expand_env", "dotenv", "MASK",
           "unmaskable", "MIN_SECRET_LENGTH"]

_SECRET_KEY = re.compile(r"pass(word|wd)?$|secret|token|api[_-]?key|credential|private[_-]?key|^pwd$",
                         re.IGNORECASE)
# the scheme starts where no scheme character precedes it: tried once per word, not from every
# letter (which made a 40,000-character text take 30 s)
_URL_CREDENTIALS = re.compile(r"(?<![a-z0-9+.\-])(?P<scheme>[a-z][a-z0-9+.\-]*://)(?P<user>[^:/@\s]*):(?P<pw>[^@/\s]+)@",
                              re.IGNORECASE)
_DSN_PASSWORD = re.compile(r"(?P<key>\b(?:password|pwd)\s*=\s*)(?P<pw>[^;\s]+)", re.IGNORECASE)
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
MASK = "•••"


MIN_SECRET_LENGTH = 4
_NUMBER_LIKE = re.compile(r"[\d\s.,:/+\-]+")


def unmaskable(secret: str) -> str | None:
    """Why a secret is masked only where it stands as a password (a URL's credentials, a
    ``password=`` pair, a password key), not wherever its text occurs: too short, or a
    number or date that the pages print as data. ``None`` for an ordinary secret.

    >>> unmaskable("2026"), unmaskable("abc"), unmaskable("s3cr3t")
    ('it is a number or a date', 'it is shorter than 4 characters', None)
    """
    if len(secret) < MIN_SECRET_LENGTH:
        return f"it is shorter than {MIN_SECRET_LENGTH} characters"
    if _NUMBER_LIKE.fullmatch(secret):
        return "it is a number or a date"
    return None


def redact_text(text: str, secrets: frozenset[str] | set[str] = frozenset()) -> str:
    """``text`` with URL passwords, ``password=`` pairs and the given values masked; a value
    is masked as a whole token (never inside a longer word or number), and values that
    :func:`unmaskable` names are left where they are not a password.

    >>> redact_text("postgresql://ann:s3cr3t@db:5432/sales")
    'postgresql://ann:•••@db:5432/sales'
    >>> redact_text("October 2026: s3cr3t, xs3cr3t", {"2026", "s3cr3t"})
    'October 2026: •••, xs3cr3t'
    """
    text = _URL_CREDENTIALS.sub(lambda m: f"{m['scheme']}{m['user']}:{MASK}@", text)
    text = _DSN_PASSWORD.sub(lambda m: f"{m['key']}{MASK}", text)
    values = sorted((v for v in secrets if unmaskable(v) is None), key=len, reverse=True)
    if values:
        tokens = re.compile(r"(?<!\w)(?:" + "|".join(map(re.escape, values)) + r")(?!\w)")
        text = tokens.sub(MASK, text)
    return text


def redact(value: Any, key: str = "") -> Any:
    """Params with every secret masked: keys named like a password, secret or token, and
    credentials inside URLs.

    >>> redact({"db": {"url": "mysql://u:p4ss@h/x", "password": "hunter2"}, "currency": "RUB"})
    {'db': {'url': 'mysql://u:•••@h/x', 'password': '•••'}, 'currency': 'RUB'}
    """
    if isinstance(value, Mapping):
        return {k: redact(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v, key) for v in value]
    if key and _SECRET_KEY.search(key) and value not in (None, ""):
        return MASK
    if isinstance(value, str):
        return redact_text(value)
    return value


def secret_values(value: Any, key: str = "", *, environ: Mapping[str, str] | None = None) -> set[str]:
    """The secret texts in params (and the environment values their ``${NAME}`` refer to)."""
    environ = {**dotenv(), **os.environ} if environ is None else environ
    found: set[str] = set()
    if isinstance(value, Mapping):
        for k, v in value.items():
            found |= secret_values(v, str(k), environ=environ)
    elif isinstance(value, list | tuple):
        for v in value:
            found |= secret_values(v, key, environ=environ)
    elif isinstance(value, str):
        candidates = [m["pw"] for m in _URL_CREDENTIALS.finditer(value)]
        candidates += [unquote(c) for c in candidates if unquote(c) != c]  # p%40ss is also p@ss
        candidates += [m["pw"] for m in _DSN_PASSWORD.finditer(value)]
        if key and _SECRET_KEY.search(key):
            candidates.append(value)
        for c in candidates:
            refs = _ENV_REF.findall(c)
            found |= {environ[r] for r in refs if environ.get(r)}
            if not refs:
                found.add(c)
    return {s for s in found if s}


def hide_secrets(params: Mapping[str, Any], *, env: Mapping[str, str] | None = None,
                 prefix: str = "SALESNB_SECRET_") -> tuple[dict[str, Any], dict[str, str]]:
    """Params with each literal secret replaced by ``${SALESNB_SECRET_n}``, and the
    environment those references need.

    The notebooks get the references (so the executed notebook never holds a secret) and
    the loader expands them from the environment the kernels inherit.

    >>> hide_secrets({"source": {"url": "pg://a:pw1@h/db"}})
    ({'source': {'url': 'pg://a:${SALESNB_SECRET_1}@h/db'}}, {'SALESNB_SECRET_1': 'pw1'})
    """
    env = dict(env or {})

    def name_for(secret: str) -> str:
        for k, v in env.items():
            if v == secret:
                return k
        env[f"{prefix}{len(env) + 1}"] = secret
        return f"{prefix}{len(env)}"

    def walk(value: Any, key: str) -> Any:
        if isinstance(value, Mapping):
            return {k: walk(v, str(k)) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [walk(v, key) for v in value]
        if not isinstance(value, str) or not value or _ENV_REF.fullmatch(value):
            return value
        if key and _SECRET_KEY.search(key):
            return "${" + name_for(value) + "}"
        value = _URL_CREDENTIALS.sub(
            lambda m: m[0] if _ENV_REF.fullmatch(m["pw"]) else
            f"{m['scheme']}{m['user']}:${{{name_for(m['pw'])}}}@", value)
        return _DSN_PASSWORD.sub(lambda m: m[0] if _ENV_REF.fullmatch(m["pw"]) else
                                 f"{m['key']}${{{name_for(m['pw'])}}}", value)

    return walk(params, ""), env


def dotenv(path: str | os.PathLike[str] | None = None) -> dict[str, str]:
    r"""``NAME=value`` lines of the project's git-ignored ``.env``, read as ``python-dotenv``
    reads them (quotes, ``#`` comments after a value, ``export``; no ``${}`` expansion, so a
    password may hold ``$``); empty when there is no such file.

    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / ".env"
    >>> _ = f.write_text("# db\nexport PGPASSWORD = 'a b c'   # db\nEMPTY=\nX=1 # n\n")
    >>> dotenv(f)
    {'PGPASSWORD': 'a b c', 'EMPTY': '', 'X': '1'}
    """
    from dotenv import dotenv_values

    if path is None:
        from salesnb import config

        path = config.ROOT / ".env"
    if not os.path.isfile(path):
        return {}
    try:
        values = dotenv_values(path, interpolate=False, encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return {}
    return {k: v or "" for k, v in values.items()}


def expand_env(value: Any, *, environ: Mapping[str, str] | None = None) -> Any:
    """``${NAME}`` in every text replaced by the environment variable ``NAME`` (or, when the
    environment lacks it, by ``NAME`` of the project's ``.env``).

    Raises ``ValueError`` naming the variable when it is not set.

    >>> expand_env({"url": "pg://a:${PW}@h"}, environ={"PW": "x"})
    {'url': 'pg://a:x@h'}
    """
    environ = {**dotenv(), **os.environ} if environ is None else environ
    if isinstance(value, Mapping):
        return {k: expand_env(v, environ=environ) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [expand_env(v, environ=environ) for v in value]
    if isinstance(value, str) and "${" in value:
        missing = [n for n in _ENV_REF.findall(value) if n not in environ]
        if missing:
            raise ValueError(f"environment variable {missing[0]} is not set (params refer to it as "
                             f"${{{missing[0]}}})")
        return _ENV_REF.sub(lambda m: environ[m[1]], value)
    return value
