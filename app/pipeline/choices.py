"""A streamed reply of one or n choices: each choice opened upstream (retried until it streams), then their
frames merged into one StreamBody. If any choice fails to open, the others are released and the failure is
raised as a plain HTTP error."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from app.chat.choice_stream import ChoiceStream
from app.chat.plan import OutputPlan
from app.dialects.base import AnswerReader
from app.frames.openai import FrameEncoder, OpenAIEnding, StreamEnding
from app.pipeline.gather import settle_all
from app.pipeline.stream import Frames, StreamBody, StreamEnd, prefixed
from app.pipeline.upstream_call import OpenedChoice, ResilientClient, UpstreamCall


@dataclass(slots=True)
class Choice:
    """One choice of a streamed reply: its upstream body, how its frames are written, what the proxy applies
    to its text, and (for legacy completions with `echo`) the prompt written before it."""

    body: bytes
    encoder: FrameEncoder
    echo: str = ""


async def open_stream(
    client: ResilientClient,
    call: UpstreamCall,
    reader: AnswerReader,
    choices: Sequence[Choice],
    plan: OutputPlan,
    *,
    upstream_stream: bool,
    include_usage: bool,
    prompts: int = 1,
    on_end: StreamEnd | None = None,
    ending: StreamEnding | None = None,
) -> tuple[StreamBody, dict[str, str]]:
    """`ending`: how the stream closes (default: OpenAI's usage chunk when asked, then `[DONE]`)."""
    """The stream body and the gateway headers of the first choice's upstream reply."""
    sinks = [ChoiceStream(choice.encoder, plan) for choice in choices]
    opened = await settle_all(
        [
            client.open_choice(call, reader, choice.body, sink, upstream_stream)
            for choice, sink in zip(choices, sinks, strict=True)
        ]
    )
    ready = [item for item in opened if isinstance(item, OpenedChoice)]
    failure = next((item for item in opened if isinstance(item, BaseException)), None)
    if failure is not None:
        for item in ready:
            if item.guard is not None:
                item.guard.close()
            if item.response is not None:
                await item.response.aclose()
        raise failure
    frames: list[Frames] = [
        prefixed(choice.encoder, choice.echo, item.frames) if choice.echo else item.frames
        for choice, item in zip(choices, ready, strict=True)
    ]
    body = StreamBody(
        frames,
        sinks,
        ending or OpenAIEnding(choices[0].encoder if include_usage else None),
        [item.response for item in ready if item.response is not None],
        prompts,
        [item.guard for item in ready if item.guard is not None],
        on_end,
    )
    return body, dict(ready[0].headers)
