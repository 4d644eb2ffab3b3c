"""Reasoning written inline as `<think>...</think>` (deepseek-r1-distill, qwq, qwen3) split from the answer.

Some templates open the block themselves, so the output only closes it ("implicit"): everything before
`</think>` is reasoning. Elsewhere only a block that opens the output counts; a `<think>` later in the
text is the model's business.
"""

from __future__ import annotations

from app.chat.markers import held_suffix

OPEN, CLOSE = "<think>", "</think>"


class ThinkSplitter:
    __slots__ = ("_buffer", "_implicit", "_state", "closed", "opened")

    def __init__(self, implicit: bool) -> None:
        self._implicit = implicit
        self._state = "start"  # start -> think -> after -> answer
        self._buffer = ""
        self.opened = False  # a reasoning block was found (or assumed, for implicit models)
        self.closed = False

    @property
    def settled(self) -> bool:
        """True once only answer text can follow: the caller may stop routing text through here."""
        return self._state == "answer" and not self._buffer

    def feed(self, text: str) -> tuple[str, str]:
        """(reasoning, answer) to write for this piece of model output."""
        self._buffer += text
        reasoning = answer = ""
        while True:
            buffer = self._buffer
            if self._state == "start":
                stripped = buffer.lstrip()
                if not stripped or (OPEN.startswith(stripped) and stripped != OPEN):
                    return reasoning, answer  # nothing yet, or a partial "<thi"
                if stripped.startswith(OPEN):
                    self._buffer = stripped[len(OPEN) :].lstrip()
                    self._enter_think()
                elif self._implicit:
                    self._buffer = stripped
                    self._enter_think()
                else:
                    self._state = "answer"
            elif self._state == "think":
                position = buffer.find(CLOSE)
                if position >= 0:
                    reasoning += buffer[:position]
                    self._buffer = buffer[position + len(CLOSE) :]
                    self._state, self.closed = "after", True
                    continue
                keep = held_suffix(buffer, (CLOSE,))
                reasoning += buffer[: len(buffer) - keep]
                self._buffer = buffer[len(buffer) - keep :] if keep else ""
                return reasoning, answer
            elif self._state == "after":
                stripped = buffer.lstrip()
                self._buffer = stripped
                if not stripped:
                    return reasoning, answer
                self._state = "answer"
            else:
                answer += buffer
                self._buffer = ""
                return reasoning, answer

    def flush(self) -> tuple[str, str]:
        buffer, self._buffer = self._buffer, ""
        if self._state == "think":
            return buffer, ""
        return "", buffer

    def _enter_think(self) -> None:
        self._state, self.opened = "think", True


def split_think(text: str, implicit: bool) -> tuple[str | None, str, bool]:
    """(reasoning or None, answer, whether the reasoning block was left open) for a whole reply."""
    splitter = ThinkSplitter(implicit)
    reasoning, answer = splitter.feed(text)
    more_reasoning, more_answer = splitter.flush()
    reasoning, answer = reasoning + more_reasoning, answer + more_answer
    if not splitter.opened:
        return None, answer, False
    return reasoning, answer, not splitter.closed
