"""POST /v1/audio/transcriptions, /v1/audio/translations and /v1/audio/speech: each model family's wire form, OpenAI's
response formats, voices and audio formats checked against what the model can do (a 400 naming the parameter)."""

from __future__ import annotations

from dataclasses import dataclass, field

from app.dialects.native.audio import (
    CONTENT_TYPES,
    build_speech,
    build_transcription,
    parse_transcription,
    speech_audio,
)
from app.errors import InvalidRequest, UpstreamError
from app.exchange import Exchange
from app.media import transcripts
from app.models.media import ASR, ASR_MODELS, AURA_FORMATS, OPENAI_VOICES, SPEECH_MODELS, TTS, SpeechModel, asr_model
from app.models.media_prices import audio_neurons, speech_neurons
from app.pipeline.core import Binary, BinaryStream, Pipeline, Reply
from app.pipeline.upstream_call import MediaStream
from app.protocol.audio import SpeechRequest
from app.routing.route import Route

TRANSCRIPTIONS = "/v1/audio/transcriptions"
TRANSLATIONS = "/v1/audio/translations"
SPEECH = "/v1/audio/speech"
OPENAI_TRANSCRIBERS = frozenset(
    {"whisper-1", "gpt-4o-transcribe", "gpt-4o-mini-transcribe", "gpt-4o-transcribe-diarize"}
)
OPENAI_SPEAKERS = frozenset({"tts-1", "tts-1-hd", "gpt-4o-mini-tts"})
ANY_SPEAKER = SpeechModel("aura", (), (), AURA_FORMATS)  # a model not known here: its voices are its own business
EVENT_STREAM = "text/event-stream; charset=utf-8"
TEXT_TYPES = {
    "text": "text/plain; charset=utf-8",
    "srt": "application/x-subrip; charset=utf-8",
    "vtt": "text/vtt; charset=utf-8",
}


@dataclass(frozen=True, slots=True)
class TranscriptionAsk:
    """A transcription or translation as the multipart form carried it."""

    audio: bytes
    content_type: str
    model: str
    language: str | None = None
    prompt: str | None = None
    response_format: str | None = None
    granularities: frozenset[str] = field(default_factory=frozenset)
    stream: bool = False  # `stream=true`: the text as `transcript.text.delta` events, then `transcript.text.done`


class Audio:
    def __init__(self, pipeline: Pipeline, transcription_model: str, speech_model: str) -> None:
        self.pipeline, self.transcription_model, self.speech_model = pipeline, transcription_model, speech_model

    async def transcribe(self, ask: TranscriptionAsk, exchange: Exchange, *, translate: bool = False) -> Reply:
        name = self.transcription_model if ask.model in OPENAI_TRANSCRIBERS else ask.model
        route = self.pipeline.route(exchange, name, ASR, TRANSLATIONS if translate else TRANSCRIPTIONS)
        family = asr_model(route.model_id)
        if translate and not family.translates:
            takers = ", ".join(sorted(m for m, f in ASR_MODELS.items() if f.translates))
            raise InvalidRequest(f"{route.requested} does not translate; models that do: {takers}.", param="model")
        form = ask.response_format or "json"
        if form not in transcripts.FORMATS:
            raise InvalidRequest(
                f"Invalid value for 'response_format': {form!r}; use one of {', '.join(transcripts.FORMATS)}.",
                param="response_format",
            )
        unknown = ask.granularities - {"word", "segment"}
        if unknown:
            raise InvalidRequest(
                "'timestamp_granularities' takes 'word' and 'segment'.", param="timestamp_granularities"
            )
        task = "translate" if translate else "transcribe"
        body, content_type, query = build_transcription(
            family, ask.audio, ask.content_type, task=task, language=ask.language, prompt=ask.prompt
        )
        self.pipeline.estimate_tokens(exchange, 0)

        async def serve(route: Route, deadline: float) -> Reply:
            call = self.pipeline.call(exchange, route, "media", deadline)
            reply = await self.pipeline.client.media(call, body, content_type, query)
            if reply.body is not None:
                raise UpstreamError(f"Workers AI answered a transcription with {reply.content_type}, not JSON.")
            transcript = parse_transcription(reply.result)
            exchange.neurons = audio_neurons(
                route.model_id, self.pipeline.catalogue.pricing(route.model_id), transcript.duration or 0.0
            )
            granularities = set(ask.granularities)
            if ask.stream and form in ("json", "text"):  # the model answers whole; the text is sent in pieces
                return Reply(Binary(transcripts.as_events(transcript), EVENT_STREAM), reply.headers)
            if form == "json":
                return Reply(transcripts.as_json(transcript, granularities, task), reply.headers)
            if form == "verbose_json":
                return Reply(transcripts.as_verbose_json(transcript, granularities, task), reply.headers)
            writer = {"text": transcripts.as_text, "srt": transcripts.as_srt, "vtt": transcripts.as_vtt}[form]
            return Reply(Binary(writer(transcript).encode(), TEXT_TYPES[form]), reply.headers)

        return await self.pipeline.run(exchange, route, serve)

    async def speak(self, request: SpeechRequest, exchange: Exchange) -> Reply:
        name = self.speech_model if request.model in OPENAI_SPEAKERS else request.model
        route = self.pipeline.route(exchange, name, TTS, SPEECH)
        family = SPEECH_MODELS.get(route.model_id, ANY_SPEAKER)
        form = request.response_format or "mp3"
        if form not in family.formats:
            raise InvalidRequest(
                f"{route.requested} makes {', '.join(family.formats)} audio, not {form!r}.", param="response_format"
            )
        if request.speed is not None and request.speed != 1.0:
            raise InvalidRequest(f"{route.requested} speaks at one speed: leave 'speed' out or use 1.0.", param="speed")
        body = build_speech(family, request.input, _voice(family, route, request.voice), form)
        self.pipeline.estimate_tokens(exchange, 0)

        async def serve(route: Route, deadline: float) -> Reply:
            call = self.pipeline.call(exchange, route, "media", deadline)
            exchange.neurons = speech_neurons(
                route.model_id, self.pipeline.catalogue.pricing(route.model_id), len(request.input)
            )
            reply = await self.pipeline.client.media_stream(call, body, "application/json")
            if isinstance(reply, MediaStream):  # bytes: relayed as they arrive
                return Reply(BinaryStream(reply.chunks, CONTENT_TYPES[form]), reply.headers)
            return Reply(Binary(speech_audio(reply.body, reply.result, form), CONTENT_TYPES[form]), reply.headers)

        return await self.pipeline.run(exchange, route, serve)


def _voice(family: SpeechModel, route: Route, voice: str) -> str:
    """The model's own voice name: as asked, or the one standing for an OpenAI voice; else a 400 listing them."""
    if voice in family.voices or not family.voices:
        return voice
    if voice in OPENAI_VOICES:
        return family.openai_voices[OPENAI_VOICES.index(voice)]
    raise InvalidRequest(
        f"{route.requested} has no voice {voice!r}; its voices: {', '.join(family.voices)} "
        f"(or OpenAI's: {', '.join(OPENAI_VOICES)}).",
        param="voice",
    )
