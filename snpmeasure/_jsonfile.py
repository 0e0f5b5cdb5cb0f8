"""Reading JSON documents (manifests, profiles, QMP commands, tool outputs) from files, with every
failure an :class:`InvalidInputError` subclass naming the file or flag."""

from __future__ import annotations

import os
from typing import Any, Type, Union

from .errors import InvalidInputError

#: Every JSON input snpmeasure reads is small; a larger file is refused rather than parsed.
MAX_JSON_BYTES = 16 << 20


def load_json_file(
    path: Union[str, os.PathLike[str]],
    field: str,
    error: Type[InvalidInputError] = InvalidInputError,
    *,
    read_field: Union[str, None] = None,
) -> Any:
    """Parse a UTF-8 JSON file; bad JSON, bad UTF-8, deep nesting or a huge file raise ``error``
    naming ``field``; a file that cannot be read is an InputFileError naming ``read_field`` (the
    argument, when ``field`` is the file's name), else ``field``."""
    import json

    from ._files import read_input

    raw = read_input(read_field or field, path, MAX_JSON_BYTES + 1)
    if len(raw) > MAX_JSON_BYTES:
        raise error(field, f"is larger than {MAX_JSON_BYTES >> 20} MiB")
    try:
        return json.loads(raw.decode("utf-8"))
    except json.JSONDecodeError as exc:
        raise error(field, f"is not valid JSON ({exc.msg} at line {exc.lineno})") from None
    except UnicodeDecodeError:
        raise error(field, "is not UTF-8 text") from None
    except RecursionError:
        raise error(field, "nests JSON too deeply") from None
    except ValueError:  # a number longer than Python's int-string limit (4300 digits)
        raise error(field, "holds a number too long to be read") from None


def check_schema(doc: Any, where: str, schema: str, version: int, hint: str) -> None:
    """``doc`` must be a JSON object with ``"schema": schema`` and ``"schema_version": version``
    (``hint`` says what writes it); otherwise an InvalidInputError naming ``where``."""
    from .errors import show

    if not isinstance(doc, dict) or doc.get("schema") != schema:
        raise InvalidInputError(where, f'must be a JSON object, a {schema} document ("schema": "{schema}"; {hint})')
    if doc.get("schema_version") != version:
        raise InvalidInputError(
            f"{where}.schema_version", f"is {show(doc.get('schema_version'))}; this snpmeasure reads version {version}"
        )
