"""Router: model names -> routes (aliases, the upstream chosen, safe ids, capabilities), and the refusals."""

from __future__ import annotations

import pytest

from app.errors import InvalidRequest, ModelNotFound
from app.routing.resolver import Router

LLAMA = "@cf/meta/llama-3.3-70b-instruct-fp8-fast"


def test_an_alias_resolves_to_its_model_on_the_default_upstream() -> None:
    route = Router({"fast": LLAMA}).resolve("fast")
    assert (route.requested, route.model_id, route.upstream, route.dialect, route.target) == (
        "fast",
        LLAMA,
        "native",
        "native",
        "workers-ai-run",
    )
    assert route.capabilities.tools != "none"


def test_a_model_can_choose_its_own_upstream() -> None:
    router = Router({}, "native", {LLAMA: "openai"})
    route = router.resolve(LLAMA)
    assert (route.dialect, route.target) == ("openai", "workers-ai-openai")


def test_the_compat_upstream_takes_provider_models_and_drops_the_workers_ai_prefix() -> None:
    router = Router({}, "compat")
    assert router.resolve("openai/gpt-4.1-mini").target == "gateway-compat"
    assert router.resolve("workers-ai/" + LLAMA).model_id == LLAMA


@pytest.mark.parametrize("name", ["@cf/meta/../x", "@cf/meta/x%2Fy", "@cf/meta/x?y", "a b", "x" * 300])
def test_unsafe_names_are_refused_before_any_call(name: str) -> None:
    with pytest.raises(InvalidRequest):
        Router({}).resolve(name)


def test_an_unknown_name_is_a_404_with_the_closest_known_ids() -> None:
    router = Router({"gpt-4o-mini": LLAMA})
    with pytest.raises(ModelNotFound) as caught:
        router.route("gpt-4o-mine")
    assert "gpt-4o-mini" in caught.value.message


def test_fallbacks_are_found_by_the_name_asked_or_the_model_id() -> None:
    router = Router({"fast": LLAMA}, fallbacks={LLAMA: ["@cf/qwen/qwen3-30b-a3b-fp8"]})
    assert router.fallbacks(router.resolve("fast")) == ["@cf/qwen/qwen3-30b-a3b-fp8"]
    assert router.knows("@cf/qwen/qwen3-30b-a3b-fp8") and not router.knows("@cf/made/up")
