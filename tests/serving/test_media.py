"""Images, speech to text, text to speech, rerank and moderation through the real server, with the official `openai`
SDK as the client (replies checked against OpenAI's schema) and raw HTTP for rerank, against the fake upstream
(the emulator's models in each family's wire form: JSON, multipart, binary, base64)."""

from __future__ import annotations

import base64
import sqlite3
import struct
import threading
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from app.emulator.world import World
from app.models.catalogue import bundled_entries
from tests.conftest import StartProxy
from tests.fake_upstream import FakeUpstream, Reply
from tests.openai_schema import sdk
from tests.servers import ProxyServer

SCHNELL = "@cf/black-forest-labs/flux-1-schnell"  # JSON in, {"image": base64} out
SDXL = "@cf/stabilityai/stable-diffusion-xl-base-1.0"  # JSON in, PNG bytes out
FLUX2 = "@cf/black-forest-labs/flux-2-dev"  # multipart in
DREAMSHAPER = "@cf/lykon/dreamshaper-8-lcm"  # img2img: image_b64
TURBO = "@cf/openai/whisper-large-v3-turbo"  # base64 audio in JSON
WHISPER = "@cf/openai/whisper"  # the audio as the body
NOVA = "@cf/deepgram/nova-3"  # raw audio with its content type, Deepgram's reply
AURA = "@cf/deepgram/aura-2-en"  # JSON in, audio bytes out
MELO = "@cf/myshell-ai/melotts"  # JSON in, base64 MP3 in JSON out
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture()
def server(start_proxy: StartProxy) -> ProxyServer:
    return start_proxy(proxy_max_n=4)


def wav(seconds: float, rate: int = 16_000) -> bytes:
    samples = bytes(2 * int(seconds * rate))
    fmt = struct.pack("<HHIIHH", 1, 1, rate, rate * 2, 2, 16)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(samples)) + samples
    return b"RIFF" + struct.pack("<I", len(body)) + body


def bad_request(call: Any) -> dict[str, Any]:
    with pytest.raises(openai.BadRequestError) as caught:
        call()
    body: dict[str, Any] = caught.value.body  # type: ignore[assignment]  # the SDK hands over the `error` object
    return {"error": body}


def test_images_in_every_wire_form(server: ProxyServer, fake: FakeUpstream) -> None:
    with sdk(server.url) as client:
        schnell = client.images.generate(model=SCHNELL, prompt="a red fox")
        assert base64.b64decode(schnell.data[0].b64_json or "").startswith(PNG)
        assert fake.last.body == {"prompt": "a red fox"}
        sdxl = client.images.generate(model=SDXL, prompt="a red fox", size="512x768", quality="hd", style="vivid", n=2)
        assert len(sdxl.data) == 2 and all(base64.b64decode(d.b64_json or "").startswith(PNG) for d in sdxl.data)
        assert fake.last.body == {"prompt": "a red fox", "num_steps": 20, "width": 512, "height": 768, "guidance": 9.0}
        flux2 = client.images.generate(model=FLUX2, prompt="a red fox", size="1024x768")
        assert base64.b64decode(flux2.data[0].b64_json or "").startswith(PNG)
        sent = fake.last
        assert sent.headers["Content-Type"].startswith("multipart/form-data; boundary=")
        assert b'name="prompt"\r\n\r\na red fox' in sent.body and b'name="width"\r\n\r\n1024' in sent.body


def test_image_urls_are_served_for_a_while(server: ProxyServer, fake: FakeUpstream) -> None:
    with sdk(server.url) as client:
        made = client.images.generate(model=SDXL, prompt="a lighthouse", response_format="url")
    url = made.data[0].url or ""
    assert url.startswith(server.url + "/v1/images/files/img_") and made.data[0].b64_json is None
    image = httpx.get(url)
    assert image.status_code == 200 and image.headers["content-type"] == "image/png" and image.content.startswith(PNG)
    guessed = httpx.get(url[:-4] + "AAAA")
    assert guessed.status_code == 404 and guessed.json()["error"]["code"] == "image_not_found"


def test_image_edits_take_the_upload(server: ProxyServer, fake: FakeUpstream) -> None:
    picture = base64.b64decode(
        httpx.post(server.url + "/v1/images/generations", json={"prompt": "x"}).json()["data"][0]["b64_json"]
    )
    with sdk(server.url) as client:
        edited = client.images.edit(model=DREAMSHAPER, image=("in.png", picture, "image/png"), prompt="make it blue")
        assert base64.b64decode(edited.data[0].b64_json or "").startswith(PNG)
        assert fake.last.body["image_b64"] == base64.b64encode(picture).decode()
        assert fake.last.body["prompt"] == "make it blue"
        flux2 = client.images.edit(model=FLUX2, image=[("a.png", picture, "image/png")], prompt="add a hat")
        assert flux2.data and b'name="input_image_0"; filename="image0"' in fake.last.body
        refused = bad_request(lambda: client.images.edit(model=SCHNELL, image=("a.png", picture), prompt="x"))
        assert refused["error"]["param"] == "model" and DREAMSHAPER in refused["error"]["message"]


def test_image_errors_are_openai_shaped(server: ProxyServer, fake: FakeUpstream) -> None:
    with sdk(server.url) as client:
        no_size = bad_request(lambda: client.images.generate(model=SCHNELL, prompt="x", size="512x512"))
        assert no_size["error"]["param"] == "size" and "1024x1024" in no_size["error"]["message"]
        assert client.images.generate(model=SCHNELL, prompt="x", size="1024x1024").data  # the size it makes anyway
        too_big = bad_request(lambda: client.images.generate(model=SDXL, prompt="x", size="4096x4096"))
        assert too_big["error"]["param"] == "size" and "256 to 2048" in too_big["error"]["message"]
        many = bad_request(lambda: client.images.generate(model=SDXL, prompt="x", n=5))
        assert many["error"]["param"] == "n"
        chat_model = bad_request(
            lambda: client.images.generate(model="@cf/meta/llama-3.3-70b-instruct-fp8-fast", prompt="x")
        )
        assert chat_model["error"]["code"] == "model_not_supported"
    assert len(fake.requests) == 1  # only the one that asked for the size it makes


@pytest.mark.parametrize("response_format", ["json", "text", "srt", "vtt", "verbose_json"])
def test_transcriptions_in_every_format(server: ProxyServer, fake: FakeUpstream, response_format: str) -> None:
    with sdk(server.url) as client:
        extra: dict[str, Any] = (
            {"timestamp_granularities": ["word", "segment"]} if response_format == "verbose_json" else {}
        )
        made: Any = client.audio.transcriptions.create(
            model=TURBO,
            file=("talk.wav", wav(2.0), "audio/wav"),
            response_format=response_format,
            language="en",
            **extra,  # type: ignore[arg-type]
        )
    assert fake.last.body["language"] == "en" and base64.b64decode(fake.last.body["audio"]) == wav(2.0)
    if response_format == "json":
        assert made.text == "Emulated transcript of 2.0 seconds of audio."
    elif response_format == "text":
        assert made == "Emulated transcript of 2.0 seconds of audio.\n"
    elif response_format == "srt":
        assert made.startswith("1\n00:00:00,000 --> 00:00:02,000\nEmulated transcript")
    elif response_format == "vtt":
        assert made.startswith("WEBVTT") and "00:00:00.000 --> 00:00:02.000" in made
    else:
        assert made.duration == 2.0 and made.language == "en" and made.segments and made.segments[0].end == 2.0
        assert made.words and made.words[0].word == "emulated" and made.words[-1].end == pytest.approx(2.0)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # the SDK marks translations deprecated
def test_each_speech_to_text_family(server: ProxyServer, fake: FakeUpstream) -> None:
    audio = wav(1.0)
    with sdk(server.url) as client:
        whisper = client.audio.transcriptions.create(model=WHISPER, file=("a.wav", audio, "audio/wav"))
        assert whisper.text.startswith("Emulated transcript") and fake.last.body == audio  # the bytes as the body
        nova = client.audio.transcriptions.create(model=NOVA, file=("a.wav", audio, "audio/wav"))
        assert nova.text.startswith("Emulated transcript") and fake.last.headers["Content-Type"] == "audio/wav"
        default = client.audio.transcriptions.create(model="whisper-1", file=("a.wav", audio, "audio/wav"))
        assert default.text and fake.last.path.endswith(TURBO)  # OpenAI's name: the configured model
        translated = client.audio.translations.create(model=TURBO, file=("a.wav", audio, "audio/wav"))
        assert translated.text.startswith("Translated") and fake.last.body["task"] == "translate"
        refused = bad_request(lambda: client.audio.translations.create(model=NOVA, file=("a.wav", audio)))
        assert refused["error"]["param"] == "model" and TURBO in refused["error"]["message"]
        wrong = bad_request(
            lambda: client.audio.transcriptions.create(model=TURBO, file=("a.wav", audio), response_format="xml")  # type: ignore[arg-type]
        )
        assert wrong["error"]["param"] == "response_format"


def test_an_oversized_upload_is_a_413(start_proxy: StartProxy, fake: FakeUpstream) -> None:
    server = start_proxy(proxy_audio_max_bytes=10_000)
    with sdk(server.url) as client, pytest.raises(openai.APIStatusError) as caught:
        client.audio.transcriptions.create(model=TURBO, file=("a.wav", wav(2.0), "audio/wav"))
    assert caught.value.status_code == 413 and len(fake.requests) == 0


def test_speech_is_relayed_with_its_content_type(server: ProxyServer, fake: FakeUpstream) -> None:
    with sdk(server.url) as client:
        with client.audio.speech.with_streaming_response.create(
            model=AURA, voice="alloy", input="Hello there"
        ) as reply:
            assert reply.headers["content-type"] == "audio/mpeg"
            audio = b"".join(reply.iter_bytes())
        assert audio.startswith(b"\xff\xfb") and fake.last.body == {
            "text": "Hello there",
            "speaker": "luna",
            "encoding": "mp3",
        }
        wav_reply = client.audio.speech.create(model=AURA, voice="thalia", input="Hi", response_format="wav")
        assert wav_reply.content.startswith(b"RIFF") and wav_reply.response.headers["content-type"] == "audio/wav"
        assert fake.last.body == {"text": "Hi", "speaker": "thalia", "encoding": "linear16", "container": "wav"}
        melo = client.audio.speech.create(model=MELO, voice="en", input="Hi")  # base64 in JSON, relayed as bytes
        assert melo.content.startswith(b"\xff\xfb") and fake.last.body == {"prompt": "Hi", "lang": "en"}
        voice = bad_request(lambda: client.audio.speech.create(model=AURA, voice="nobody", input="Hi"))
        assert voice["error"]["param"] == "voice" and "luna" in voice["error"]["message"]
        form = bad_request(
            lambda: client.audio.speech.create(model=MELO, voice="en", input="Hi", response_format="wav")
        )
        assert form["error"]["param"] == "response_format"
        speed = bad_request(lambda: client.audio.speech.create(model=AURA, voice="luna", input="Hi", speed=1.5))
        assert speed["error"]["param"] == "speed"


def test_moderations_map_llama_guard_hazards(server: ProxyServer, fake: FakeUpstream) -> None:
    with sdk(server.url) as client:
        checked = client.moderations.create(input=["I will kill them all", "What a nice day", "I hate you"])
    violent, calm, hateful = checked.results
    assert violent.flagged and violent.categories.violence and violent.category_scores.violence == 1.0
    assert not calm.flagged and not any(calm.categories.model_dump().values())
    assert hateful.flagged and hateful.categories.hate and not hateful.categories.violence
    assert checked.model == "@cf/meta/llama-guard-3-8b" and checked.id.startswith("modr-")
    assert fake.last.body["messages"] == [{"role": "user", "content": "I hate you"}]
    with sdk(server.url) as client:
        parts = client.moderations.create(input=[{"type": "text", "text": "a calm text"}])
        assert not parts.results[0].flagged
        image = bad_request(
            lambda: client.moderations.create(input=[{"type": "image_url", "image_url": {"url": "https://x/y.png"}}])
        )
        assert image["error"]["param"] == "input"


def test_rerank_sorts_and_cuts(server: ProxyServer, fake: FakeUpstream) -> None:
    asked = {
        "model": "@cf/baai/bge-reranker-base",
        "query": "red fox",
        "documents": ["a blue whale", "the red fox jumps", {"text": "a fox"}],
        "top_n": 2,
        "return_documents": True,
    }
    reply = httpx.post(server.url + "/v1/rerank", json=asked)
    assert reply.status_code == 200, reply.text
    results = reply.json()["results"]
    assert [r["index"] for r in results] == [1, 2] and results[0]["relevance_score"] > results[1]["relevance_score"]
    assert results[0]["document"] == {"text": "the red fox jumps"} and reply.json()["usage"]["total_tokens"] > 0
    assert fake.last.body == {
        "query": "red fox",
        "contexts": [{"text": t} for t in ("a blue whale", "the red fox jumps", "a fox")],
    }
    bare = httpx.post(server.url + "/rerank", json={**asked, "top_n": None, "return_documents": False}).json()
    assert len(bare["results"]) == 3 and "document" not in bare["results"][0]
    wrong = httpx.post(server.url + "/v1/rerank", json={**asked, "model": SDXL})
    assert wrong.status_code == 400 and wrong.json()["error"]["code"] == "model_not_supported"


def test_the_media_models_are_listed_with_their_task() -> None:
    bundled = {entry.id: entry.task for entry in bundled_entries()}  # what /v1/models lists without a catalogue
    emulated = {entry["name"]: entry["task"]["name"] for entry in World().catalogue_entries()}  # --emulator's
    for listed in (bundled, emulated):
        assert listed[SDXL] == "Text-to-Image" and listed[AURA] == "Text-to-Speech"
        assert (
            listed[TURBO] == "Automatic Speech Recognition"
            and listed["@cf/baai/bge-reranker-base"] == "Text Classification"
        )


def test_media_are_priced_in_the_ledger(start_proxy: StartProxy, fake: FakeUpstream, tmp_path: Path) -> None:
    state = tmp_path / "state.sqlite3"
    server = start_proxy(proxy_state_path=state, proxy_admin_key="sk-admin")
    with sdk(server.url) as client:
        client.images.generate(model=SCHNELL, prompt="a fox", n=2)  # 2 x (4 tiles of 1024x1024 and 4 steps)
        client.audio.transcriptions.create(model=TURBO, file=("a.wav", wav(6.0), "audio/wav"))  # 0.1 minute
        client.audio.speech.create(model=AURA, voice="luna", input="x" * 500).read()  # 500 characters
    httpx.get(server.url + "/v1/usage", headers={"Authorization": "Bearer sk-admin"})  # writes the ledger out
    rows = dict(sqlite3.connect(state).execute("SELECT endpoint, neurons FROM usage").fetchall())
    per_usd = 1000 / 0.011
    assert rows["images"] == pytest.approx(2 * (4 * 0.0000528 + 4 * 0.0001056) * per_usd)
    assert rows["transcriptions"] == pytest.approx(0.1 * 0.0005 * per_usd)
    assert rows["speech"] == pytest.approx(0.5 * 0.03 * per_usd)


def test_speech_reaches_the_client_as_it_arrives(server: ProxyServer, fake: FakeUpstream) -> None:
    release = threading.Event()  # the upstream holds the rest of the audio until the client has the first piece
    first, rest = b"\xff\xfb\x90\x64" + bytes(413), b"\xff\xfb\x90\x64" + bytes(413)
    fake.script(Reply(chunks=[first, rest], hold=release, content_type="audio/mpeg"))
    with (
        sdk(server.url) as client,
        client.audio.speech.with_streaming_response.create(model=AURA, voice="luna", input="Hello") as reply,
    ):
        pieces = reply.iter_bytes(chunk_size=len(first))
        assert next(pieces) == first
        assert fake._script.in_flight == 1  # the upstream is still holding the rest: relayed, not gathered
        release.set()
        assert b"".join(pieces) == rest


def test_a_media_model_is_refused_on_chat(server: ProxyServer, fake: FakeUpstream) -> None:
    with sdk(server.url) as client:
        refused = bad_request(
            lambda: client.chat.completions.create(model=SDXL, messages=[{"role": "user", "content": "hi"}])
        )
    assert refused["error"]["code"] == "model_not_supported" and "Text-to-Image" in refused["error"]["message"]
    assert len(fake.requests) == 0


def test_a_transcription_can_be_streamed(server: ProxyServer, fake: FakeUpstream) -> None:
    with sdk(server.url) as client:
        events = list(
            client.audio.transcriptions.create(model=TURBO, file=("a.wav", wav(1.0), "audio/wav"), stream=True)
        )
    deltas = [e.delta for e in events if e.type == "transcript.text.delta"]
    assert len(deltas) > 1 and events[-1].type == "transcript.text.done"
    assert "".join(deltas) == events[-1].text == "Emulated transcript of 1.0 seconds of audio."
