"""Tiny models for the serving integration tests, and an ``octopack serve --no-ray`` process."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.serve.plain import PlainServer, start_plain_server, stop_plain_server

#: A small ChatML-like template, so the chat API has something to apply.
CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}<|endoftext|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from octopack.models.tiny import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny-serve-it"))


@pytest.fixture(scope="session")
def chat_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny model with a chat template in its tokenizer."""
    from transformers import AutoTokenizer

    from octopack.models.tiny import build_tiny_model

    path = build_tiny_model(tmp_path_factory.mktemp("tiny-chat-it"))
    tokenizer = AutoTokenizer.from_pretrained(path)
    tokenizer.chat_template = CHAT_TEMPLATE
    tokenizer.save_pretrained(path)
    return path


@pytest.fixture(scope="session")
def plain_server(chat_model: Path) -> Iterator[PlainServer]:
    server = start_plain_server(chat_model, "--served-name", "tiny")
    try:
        yield server
    finally:
        stop_plain_server(server)
