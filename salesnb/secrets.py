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

__all__ = ["redact", "redact_text", "secret_values", "hide_secrets", "expand_env", "dotenv", "MASK"]

_SECRET_KEY = re.compile(r"pass(word|wd)?$|secret|token|api[_-]?key|credential|private[_-]?key|^pwd$",
                         re.IGNORECASE)
_URL_CREDENTIALS = re.compile(r"(?P<scheme>[a-z][a-z0-9+.\-]*://)(?P<user>[^:/@\s]*):(?P<pw>[^@/\s]+)@",
                              re.IGNORECASE)
_DSN_PASSWORD = re.compile(r"(?P<key>\b(?:password|pwd)\s*=\s*)(?P<pw>[^;\s]+)", re.IGNORECASE)
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
MASK = "•••"


def redact_text(text: str, secrets: frozenset[str] | set[str] = frozenset()) -> str:
    """``text`` with URL passwords, ``password=`` pairs and the given values masked.

    >>> redact_text("postgresql://ann:s3cr3t@db:5432/sales")
    'postgresql://ann:•••@db:5432/sales'
    """
    text = _URL_CREDENTIALS.sub(lambda m: f"{m['scheme']}{m['user']}:{MASK}@", text)
    text = _DSN_PASSWORD.sub(lambda m: f"{m['key']}{MASK}", text)
    for value in sorted(secrets, key=len, reverse=True):
        if len(value) >= 4:  # a two-letter "secret" would mask ordinary words
            text = text.replace(value, MASK)
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
    r"""``NAME=value`` lines of the project's git-ignored ``.env`` (``#`` comments, optional
    quotes, ``export`` allowed); empty when there is no such file.

    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / ".env"
    >>> _ = f.write_text("# db\nexport PGPASSWORD='s3cr3t'\nEMPTY=\n")
    >>> dotenv(f)
    {'PGPASSWORD': 's3cr3t', 'EMPTY': ''}
    """
    if path is None:
        from salesnb import config

        path = config.ROOT / ".env"
    try:
        lines = open(path, encoding="utf-8").read().splitlines()  # noqa: SIM115
    except OSError:
        return {}
    out = {}
    for line in lines:
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        name, _, value = line.removeprefix("export ").partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        out[name.strip()] = value
    return out


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
