"""The error model's string and date edits, each a small pure function of a value and a random generator.

Each is applied only to the records the error model picked (a few per cent), so plain Python per
value costs little even at a million people.
"""

from __future__ import annotations

import re
from typing import Final

import numpy as np

_KEYBOARD_ROWS: Final = ("qwertyuiop", "asdfghjkl", "zxcvbnm")
_NEIGHBOURS: Final[dict[str, str]] = {}
for _r, _row in enumerate(_KEYBOARD_ROWS):
    for _c, _key in enumerate(_row):
        near = [_row[i] for i in (_c - 1, _c + 1) if 0 <= i < len(_row)]
        near += [_KEYBOARD_ROWS[r][i] for r in (_r - 1, _r + 1) if 0 <= r < 3
                 for i in (_c, _c + 1) if 0 <= i < len(_KEYBOARD_ROWS[r])]
        _NEIGHBOURS[_key] = "".join(near)

#: Spellings that sound alike (pattern, replacement), tried in order; the first that applies is used.
_PHONETIC: Final = (("ph", "f"), ("f", "ph"), ("ck", "k"), ("th", "t"), ("ey$", "y"), ("y$", "ie"), ("ie$", "y"),
                    ("ou", "ow"), ("ee", "ea"), ("c", "k"), ("k", "c"), ("s", "z"), ("z", "s"), ("ll", "l"),
                    ("tt", "t"), ("nn", "n"), ("mm", "m"), ("l", "ll"), ("i", "y"), ("ai", "ay"), ("er$", "a"))
_OCR: Final = (("m", "rn"), ("rn", "m"), ("d", "cl"), ("l", "I"), ("I", "l"), ("O", "0"), ("o", "0"), ("e", "c"),
               ("h", "b"), ("w", "vv"), ("S", "5"), ("B", "8"))

ABBREVIATIONS: Final[dict[str, str]] = {
    "Road": "Rd", "Street": "St", "Avenue": "Ave", "Close": "Cl", "Drive": "Dr", "Lane": "Ln", "Crescent": "Cres",
    "Gardens": "Gdns", "Place": "Pl", "Court": "Ct", "Grove": "Gr", "Terrace": "Terr", "Square": "Sq",
    "Parade": "Pde", "Walk": "Wlk", "Way": "Wy", "Park": "Pk", "Green": "Grn",
}


def keyboard_typo(name: str, rng: np.random.Generator) -> str:
    """One letter replaced by a neighbouring key (case kept)."""
    letters = [i for i, ch in enumerate(name) if ch.lower() in _NEIGHBOURS]
    if not letters:
        return name
    i = letters[int(rng.integers(len(letters)))]
    options = _NEIGHBOURS[name[i].lower()]
    new = options[int(rng.integers(len(options)))]
    return name[:i] + (new.upper() if name[i].isupper() else new) + name[i + 1:]


def phonetic_typo(name: str, rng: np.random.Generator) -> str:
    """A sound-alike spelling ("Stephen" -> "Steven"), else a doubled letter."""
    changed = _first_rule_that_changes(name, _PHONETIC, rng, phonetic=True)
    if changed is not None:
        return changed
    i = int(rng.integers(1, len(name))) if len(name) > 1 else 0
    return name[:i] + name[i] + name[i:]


def ocr_typo(name: str, rng: np.random.Generator) -> str:
    """A scanning confusion (rn for m, cl for d, 0 for O, ...), else a keyboard slip."""
    return _first_rule_that_changes(name, _OCR, rng, phonetic=False) or keyboard_typo(name, rng)


def _first_rule_that_changes(name: str, rules: tuple[tuple[str, str], ...], rng: np.random.Generator,
                             phonetic: bool) -> str | None:
    """The name after the first rule that changes it, trying the rules from a random one on."""
    start = int(rng.integers(len(rules)))
    for pattern, replacement in rules[start:] + rules[:start]:
        changed = _replace_one(name, pattern, replacement, keep_first=phonetic)
        if changed != name:
            return changed
    return None


def _replace_one(name: str, pattern: str, replacement: str, keep_first: bool) -> str:
    """Replace the first match (case-insensitively for phonetic rules, keeping a capital initial)."""
    flags = re.IGNORECASE if keep_first else 0
    found = re.search(pattern, name, flags)
    if found is None:
        return name
    new = replacement
    if keep_first and found.start() == 0 and name[:1].isupper():
        new = replacement[:1].upper() + replacement[1:]
    return name[:found.start()] + new + name[found.end():]


TYPOS: Final = {"typo_keyboard": keyboard_typo, "typo_phonetic": phonetic_typo, "typo_ocr": ocr_typo}


def abbreviate(street: str) -> str:
    """The street type abbreviated (Hobill Close -> Hobill Cl)."""
    head, _, last = street.rpartition(" ")
    return f"{head} {ABBREVIATIONS[last]}" if head and last in ABBREVIATIONS else street


def flat_variant(flat: int, number: int, rng: np.random.Generator) -> str:
    """The start of a flat's address written another way, or with the flat left out."""
    forms = (f"{flat}/{number} ", f"Flat {flat} {number} ", f"{number}{'abcdef'[(flat - 1) % 6]} ", f"{number} ")
    return forms[int(rng.integers(len(forms)))]


def swap_day_month(dates: np.ndarray) -> np.ndarray:
    """Dates with day and month exchanged (callers pass days of 12 or less only)."""
    years = dates.astype("datetime64[Y]")
    months = (dates.astype("datetime64[M]") - years).astype(np.int64) + 1
    days = (dates - dates.astype("datetime64[M]")).astype(np.int64) + 1
    return (years + (days - 1).astype("timedelta64[M]")).astype("datetime64[D]") + (months - 1).astype(
        "timedelta64[D]")


def day_and_month(dates: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    months = (dates.astype("datetime64[M]") - dates.astype("datetime64[Y]")).astype(np.int64) + 1
    days = (dates - dates.astype("datetime64[M]")).astype(np.int64) + 1
    return days, months
