"""Write ``.env`` for the Compose stack from ``.env.example``, with freshly generated secrets.

Every variable whose name contains PASSWORD, SECRET, KEY, TOKEN or FERNET gets a new random
value from :mod:`secrets`; every other line is copied as it is. An existing ``.env`` is kept
unless ``--force`` is given: its secrets are already baked into the stack's volumes.

Usage: ``python scripts/make_env.py [--force] [--example .env.example] [--output .env]``
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import os
import re
import secrets
import string
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

SECRET_MARKERS = ("PASSWORD", "SECRET", "KEY", "TOKEN", "FERNET")
ASSIGNMENT = re.compile(r"^(?P<name>[A-Za-z_][A-Za-z0-9_]*)=(?P<value>.*)$")

_ALNUM = string.ascii_letters + string.digits


def is_secret(name: str) -> bool:
    """Whether a variable holds a secret, judged by its name (the rule the compose test uses)."""
    return any(marker in name.upper() for marker in SECRET_MARKERS)


def _alnum(length: int, alphabet: str = _ALNUM) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))


def fernet_key() -> str:
    """A Fernet key: 32 random bytes, URL-safe base64 (what Airflow's fernet_key expects)."""
    return base64.urlsafe_b64encode(os.urandom(32)).decode("ascii")


def generator_for(name: str) -> Callable[[], str]:
    """The generator of a fresh value for the secret variable ``name``."""
    upper = name.upper()
    if "FERNET" in upper:
        return fernet_key
    if upper == "AIRFLOW_JWT_SECRET":
        return lambda: secrets.token_hex(64)  # 64 random bytes, hex encoded
    if upper.endswith("ACCESS_KEY"):
        # An access key is a user name to MinIO: 20 characters like AWS's, at most 20 allowed.
        return lambda: _alnum(20, string.ascii_uppercase + string.digits)
    if upper.startswith(("MINIO_", "INBOX_UPLOAD_")) or "_S3_" in upper:
        return lambda: _alnum(40)  # MinIO secret keys: 8 to 40 characters
    if upper.endswith("_KEYS"):
        return lambda: secrets.token_urlsafe(32)  # one key; add more by hand, comma-separated
    if "PASSWORD" in upper:
        return lambda: secrets.token_urlsafe(24)  # 32 characters; MLflow wants at least 12
    return lambda: secrets.token_urlsafe(32)


def parse_dotenv(text: str) -> dict[str, str]:
    """The values of a ``.env`` text as Compose reads them.

    Blank lines and ``#`` comments are skipped; surrounding single or double quotes are
    removed from a value (``make env`` writes none: its secrets need no quoting).
    """
    values: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = ASSIGNMENT.match(line.removeprefix("export ").strip())
        if not match:
            raise ValueError(f"not NAME=value: {line!r}")
        value = match["value"].strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[match["name"]] = value
    return values


def render(example: str) -> tuple[str, list[str]]:
    """Return the ``.env`` text for an example file's text, and the names that got a secret."""
    lines: list[str] = []
    generated: list[str] = []
    for line in example.splitlines():
        match = ASSIGNMENT.match(line.strip())
        if match and is_secret(match["name"]):
            name = match["name"]
            lines.append(f"{name}={generator_for(name)()}")
            generated.append(name)
        else:
            lines.append(line)
    return "\n".join(lines) + "\n", generated


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` readable by the owner only, replacing it atomically.

    The temporary file has a random name and is created exclusively with mode 600
    (``mkstemp``), so no link or file planted beside ``path`` can catch the secrets.
    """
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--example", type=Path, default=ROOT / ".env.example")
    parser.add_argument("--output", type=Path, default=ROOT / ".env")
    parser.add_argument(
        "--force", action="store_true", help="overwrite an existing file (new secrets for all)"
    )
    args = parser.parse_args(argv)

    if args.output.exists() and not args.force:
        print(  # noqa: T201
            f"{args.output} exists; keeping it. Use --force to replace every secret "
            "(an existing stack then needs `make clean`: its databases keep the old passwords).",
            file=sys.stderr,
        )
        return 1
    text, generated = render(args.example.read_text(encoding="utf-8"))
    write_private(args.output, text)
    print(f"wrote {args.output} with {len(generated)} fresh secrets")  # noqa: T201
    return 0


if __name__ == "__main__":
    sys.exit(main())
