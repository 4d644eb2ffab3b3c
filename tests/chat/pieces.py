"""Ways to cut a text the way an upstream stream might: whole, one character at a time, random chunks."""

from __future__ import annotations

import random


def cuts(text: str, seed: int = 7) -> dict[str, list[str]]:
    rng = random.Random(seed)
    pieces, i = [], 0
    while i < len(text):
        step = rng.randint(1, 5)
        pieces.append(text[i : i + step])
        i += step
    return {"whole": [text], "chars": list(text), "random": pieces}
