"""How an operator may vary its answer files and stay within its protocol.

A real OI's files are not all alike: a comment left empty by one batch run is a full paragraph in the next,
with accents, the separator and quotes inside; an informational column (where the PM stands, the type of a
PBO) is sometimes filled and sometimes not. An OC's parser must take them all. A spec pack lists, as data
(`variations` in pack.yaml), which columns are free text and which are informational; a tenant's answer
style (set through the admin API, drawn by the harness's `--fuzz`) says what the operator does with them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

#: What an answer style may ask, and the values it may take (the first is the default: the files as they are).
STYLE_CHOICES: dict[str, tuple[str, ...]] = {
    "free_text": ("as_is", "empty", "max"),  # free-text columns: as the operator wrote them, empty, or full
    "informational": ("as_is", "empty"),  # informational columns: as written, or left empty
}

#: The filler of a free-text column at its maximum length: accents of ISO-8859-1, commas and double quotes,
#: which a CSV writer quotes and a reader must unquote (never the separator: answer values never hold it).
FILLER = 'Intervention prévue, entrée "bât. B", clé chez le gardien (reçu à l\'accueil). '


class StyleError(ValueError):
    """An answer style that asks what the pack does not offer: the message says which key or value."""


def check_style(style: Mapping[str, Any]) -> dict[str, str]:
    """A valid, complete answer style from what a client sent (unknown keys or values raise StyleError)."""
    unknown = set(style) - set(STYLE_CHOICES)
    if unknown:
        raise StyleError(f"unknown answer style keys: {', '.join(sorted(unknown))} "
                         f"(known: {', '.join(STYLE_CHOICES)})")
    checked = {}
    for key, choices in STYLE_CHOICES.items():
        value = style.get(key, choices[0])
        if value not in choices:
            raise StyleError(f"{key} must be one of {', '.join(choices)}, not {value!r}")
        checked[key] = value
    return checked


@dataclass(frozen=True)
class Variations:
    """The columns of a pack's answer files an operator may vary (pack.yaml `variations`)."""

    free_text: tuple[str, ...] = ()
    free_text_max: int = 256
    informational: tuple[str, ...] = ()

    @classmethod
    def from_yaml(cls, data: Mapping[str, Any] | None) -> Variations:
        data = data or {}
        unknown = set(data) - {"free_text", "informational"}
        if unknown:
            raise ValueError(f"variations has unknown keys {', '.join(sorted(unknown))}")
        free = data.get("free_text") or {}
        return cls(free_text=tuple(free.get("columns", ())), free_text_max=int(free.get("max", 256)),
                   informational=tuple(data.get("informational", ())))

    def full_text(self) -> str:
        """A free text of exactly the maximum length."""
        text = (FILLER * (self.free_text_max // len(FILLER) + 1))[:self.free_text_max]
        return text[:-1] + "." if text.endswith(" ") else text  # readers trim: a last space would be lost

    def apply(self, columns: list[str], records: list[dict[str, str]],
              style: Mapping[str, str]) -> list[dict[str, str]]:
        """The records as the style asks; an empty or default style leaves them as they are."""
        free = [c for c in self.free_text if c in columns] if style.get("free_text", "as_is") != "as_is" else []
        info = [c for c in self.informational if c in columns] if style.get("informational") == "empty" else []
        if not free and not info:
            return records
        text = self.full_text() if style.get("free_text") == "max" else ""
        varied = []
        for record in records:
            record = dict(record)
            for column in free:
                record[column] = text
            for column in info:
                record[column] = ""
            varied.append(record)
        return varied
