"""Reading JSON documents (manifests, profiles, QMP commands, tool outputs) from files, with every
failure an :class:`InvalidInputError` subclass naming the file or flag."""

from __future__ import annotations

import os
from typing import Any, Dict, List, Tuple, Type, Union

from .errors import InvalidInputError, show

#: Every JSON input snpmeasure reads is small; a larger file is refused rather than parsed.
MAX_JSON_BYTES = 16 << 20


def load_json_file(
    path: Union[str, os.PathLike[str]],
    field: str,
    error: Type[InvalidInputError] = InvalidInputError,
    *,
    read_field: Union[str, None] = None,
) -> Any:
    """Parse a UTF-8 JSON file (:func:`parse_json`); bad UTF-8 or a huge file raise ``error``
    naming ``field`` too; a file that cannot be read is an InputFileError naming ``read_field`` (the
    argument, when ``field`` is the file's name), else ``field``."""
    from ._files import read_input

    raw = read_input(read_field or field, path, MAX_JSON_BYTES + 1)
    if len(raw) > MAX_JSON_BYTES:
        raise error(field, f"is larger than {MAX_JSON_BYTES >> 20} MiB")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise error(field, "is not UTF-8 text") from None
    return parse_json(text, field, error)


def parse_json(text: str, field: str, error: Type[InvalidInputError] = InvalidInputError, what: str = "") -> Any:
    """Parse JSON text; a syntax error, deep nesting, a huge number or an object with a key twice
    raise ``error`` naming ``field`` (``what`` starts the rule: ``"FILE "``). A repeated key is
    refused, not resolved: Python keeps the last value, other readers the first, and a check
    written twice (``"measurements": [...], "measurements": []``) must not silently become the
    other one; QEMU's JSON parser refuses it too ("duplicate key")."""
    import json

    def no_duplicates(pairs: List[Tuple[str, Any]]) -> Dict[str, Any]:
        out: Dict[str, Any] = {}
        for key, value in pairs:
            if key in out:
                raise error(field, f"{what}has the key {show(key)} twice in one JSON object")
            out[key] = value
        return out

    try:
        return json.loads(text, object_pairs_hook=no_duplicates)
    except InvalidInputError:
        raise
    except json.JSONDecodeError as exc:
        raise error(field, f"{what}is not valid JSON ({exc.msg} at line {exc.lineno})") from None
    except RecursionError:
        raise error(field, f"{what}nests JSON too deeply") from None
    except ValueError:  # a number longer than Python's int-string limit (4300 digits)
        raise error(field, f"{what}holds a number too long to be read") from None


def check_schema(doc: Any, where: str, schema: str, version: int, hint: str) -> None:
    """``doc`` must be a JSON object with ``"schema": schema`` and ``"schema_version": version``
    (``hint`` says what writes it); otherwise an InvalidInputError naming ``where``."""
    if not isinstance(doc, dict) or doc.get("schema") != schema:
        raise InvalidInputError(where, f'must be a JSON object, a {schema} document ("schema": "{schema}"; {hint})')
    if doc.get("schema_version") != version:
        raise InvalidInputError(
            f"{where}.schema_version", f"is {show(doc.get('schema_version'))}; this snpmeasure reads version {version}"
        )
