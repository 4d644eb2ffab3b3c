"""Workers AI's image, speech, transcription, reranking and safety models: how each family is spoken to (wire spec
1.2, 1.4, 9.2 and the models' schema files) and what it can do. The dialect's media translators read these; an id
not listed is taken as its task's most common family, and what it answers is read tolerantly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

IMAGES = "Text-to-Image"
ASR = "Automatic Speech Recognition"
TTS = "Text-to-Speech"
CLASSIFICATION = "Text Classification"  # what the catalogue calls the rerankers

ImageWire = Literal["json", "multipart"]  # how the request travels; replies are read as JSON or bytes, whichever


@dataclass(frozen=True, slots=True)
class ImageModel:
    wire: ImageWire
    sizes: tuple[int, int] | None  # the smallest and largest width/height it takes; None: no size at all
    steps_field: str | None  # "steps" or "num_steps"
    max_steps: int
    guidance: bool = False
    edits: Literal["none", "image_b64", "uint8", "multipart"] = "none"  # how it takes an input image
    mask: bool = False  # inpainting: takes a mask beside the image
    needs_image: bool = False  # img2img only: a prompt alone is refused
    native: tuple[int, int] | None = None  # the one size a model without `sizes` makes (asking for it is fine)


IMAGE_MODELS: dict[str, ImageModel] = {
    "@cf/black-forest-labs/flux-1-schnell": ImageModel("json", None, "steps", 8, native=(1024, 1024)),
    "@cf/black-forest-labs/flux-2-dev": ImageModel("multipart", (256, 1920), "steps", 50, edits="multipart"),
    "@cf/black-forest-labs/flux-2-klein-4b": ImageModel("multipart", (256, 1920), "steps", 50, edits="multipart"),
    "@cf/black-forest-labs/flux-2-klein-9b": ImageModel("multipart", (256, 1920), "steps", 50, edits="multipart"),
    "@cf/stabilityai/stable-diffusion-xl-base-1.0": ImageModel(
        "json", (256, 2048), "num_steps", 20, guidance=True, edits="image_b64", mask=True
    ),
    "@cf/bytedance/stable-diffusion-xl-lightning": ImageModel("json", (256, 2048), "num_steps", 20, guidance=True),
    "@cf/lykon/dreamshaper-8-lcm": ImageModel("json", (256, 2048), "num_steps", 20, guidance=True, edits="image_b64"),
    "@cf/runwayml/stable-diffusion-v1-5-img2img": ImageModel(
        "json", (256, 2048), "num_steps", 20, guidance=True, edits="uint8", needs_image=True
    ),
    "@cf/runwayml/stable-diffusion-v1-5-inpainting": ImageModel(
        "json", (256, 2048), "num_steps", 20, guidance=True, edits="uint8", mask=True, needs_image=True
    ),
    "@cf/leonardo/lucid-origin": ImageModel("json", (0, 2500), "steps", 40, guidance=True),
    "@cf/leonardo/phoenix-1.0": ImageModel("json", (0, 2048), "num_steps", 50, guidance=True),
}
DEFAULT_IMAGE_MODEL = ImageModel("json", (256, 2048), "num_steps", 20, guidance=True)

AsrWire = Literal["bytes", "base64", "raw"]  # whisper: the audio as the body; turbo: base64 in JSON; nova: raw + type


@dataclass(frozen=True, slots=True)
class AsrModel:
    wire: AsrWire
    translates: bool = False  # `task: "translate"` (to English)


ASR_MODELS: dict[str, AsrModel] = {
    "@cf/openai/whisper": AsrModel("bytes"),
    "@cf/openai/whisper-tiny-en": AsrModel("bytes"),
    "@cf/openai/whisper-large-v3-turbo": AsrModel("base64", translates=True),
    "@cf/deepgram/nova-3": AsrModel("raw"),
}
DEFAULT_ASR_MODEL = AsrModel("bytes")

# OpenAI's voices, for clients that only know those: each taken as the closest voice a model has
OPENAI_VOICES = ("alloy", "ash", "ballad", "coral", "echo", "fable", "nova", "onyx", "sage", "shimmer", "verse")


@dataclass(frozen=True, slots=True)
class SpeechModel:
    wire: Literal["aura", "melotts"]
    voices: tuple[str, ...]  # the model's own names, the default first
    openai_voices: tuple[str, ...]  # the voice each of OPENAI_VOICES becomes, in that order
    formats: tuple[str, ...]  # OpenAI response formats it can produce


AURA_2_EN = (
    "luna amalthea andromeda apollo arcas aries asteria athena atlas aurora callista cora cordelia delia draco "
    "electra harmonia helena hera hermes hyperion iris janus juno jupiter mars minerva neptune odysseus ophelia "
    "orion orpheus pandora phoebe pluto saturn thalia theia vesta zeus"
).split()
AURA_2_ES = "aquila sirio nestor carina celeste alvaro diana selena estrella javier".split()
AURA_1 = "asteria luna stella athena hera orion arcas perseus angus orpheus helios zeus".split()
AURA_FORMATS = ("mp3", "wav", "opus", "flac", "pcm", "aac")
SPEECH_MODELS: dict[str, SpeechModel] = {
    "@cf/deepgram/aura-2-en": SpeechModel(
        "aura",
        tuple(AURA_2_EN),
        ("luna", "orion", "orpheus", "cora", "arcas", "callista", "aurora", "zeus", "athena", "thalia", "apollo"),
        AURA_FORMATS,
    ),
    "@cf/deepgram/aura-2-es": SpeechModel(
        "aura",
        tuple(AURA_2_ES),
        ("aquila", "alvaro", "nestor", "carina", "javier", "sirio", "celeste", "nestor", "diana", "selena", "estrella"),
        AURA_FORMATS,
    ),
    "@cf/deepgram/aura-1": SpeechModel(
        "aura",
        tuple(AURA_1),
        ("luna", "orion", "orpheus", "athena", "arcas", "perseus", "stella", "zeus", "hera", "asteria", "helios"),
        AURA_FORMATS,
    ),
    "@cf/myshell-ai/melotts": SpeechModel(
        "melotts", ("en", "es", "fr", "zh", "jp", "kr"), ("en",) * len(OPENAI_VOICES), ("mp3",)
    ),
}

RERANKERS = frozenset({"@cf/baai/bge-reranker-base", "@cf/baai/bge-reranker-v2-m3"})
MODERATION_MODELS = frozenset({"@cf/meta/llama-guard-3-8b"})
DEFAULT_MODERATION_MODEL = "@cf/meta/llama-guard-3-8b"
OPENAI_MODERATION_NAMES = frozenset(
    {"omni-moderation-latest", "omni-moderation-2024-09-26", "text-moderation-latest", "text-moderation-stable"}
)


def image_model(model_id: str) -> ImageModel:
    return IMAGE_MODELS.get(model_id, DEFAULT_IMAGE_MODEL)


def asr_model(model_id: str) -> AsrModel:
    return ASR_MODELS.get(model_id, DEFAULT_ASR_MODEL)
