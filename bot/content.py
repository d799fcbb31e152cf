"""Every word the bot says, loaded once from content/<language>/<topic>.toml and looked up by key."""

from __future__ import annotations

import re
import string
import tomllib
from importlib import resources
from typing import Any

DEFAULT_LANGUAGE = "en"
LANGUAGE = re.compile(r"[a-z]{2,3}")


class Content:
    """Texts by language and key, with English as the fallback language."""

    def __init__(self, texts: dict[str, dict[str, str]]) -> None:
        if DEFAULT_LANGUAGE not in texts:
            raise ValueError("content has no English texts")
        self._texts = texts

    @classmethod
    def load(cls) -> Content:
        """Read every content/<language>/<topic>.toml shipped with the package; keys are '<topic>.<name>'."""
        texts: dict[str, dict[str, str]] = {}
        for folder in resources.files("content").iterdir():
            if not folder.is_dir() or not LANGUAGE.fullmatch(folder.name):
                continue
            language = texts.setdefault(folder.name, {})
            for entry in folder.iterdir():
                if entry.name.endswith(".toml"):
                    topic = entry.name.removesuffix(".toml")
                    language.update(_flatten(tomllib.loads(entry.read_text("utf-8")), f"{topic}."))
        return cls(texts)

    @property
    def languages(self) -> list[str]:
        return sorted(self._texts)

    def keys(self, language: str = DEFAULT_LANGUAGE) -> set[str]:
        return set(self._texts[language])

    def raw(self, key: str, language: str = DEFAULT_LANGUAGE) -> str:
        """Return the unformatted text for a key, in English if the language lacks it."""
        texts = self._texts.get(language) or self._texts[DEFAULT_LANGUAGE]
        if key in texts:
            return texts[key]
        if key in self._texts[DEFAULT_LANGUAGE]:
            return self._texts[DEFAULT_LANGUAGE][key]
        topic = key.split(".", 1)[0]
        raise KeyError(f"Content key {key!r} is missing from content/{DEFAULT_LANGUAGE}/{topic}.toml")

    def text(self, key: str, language: str = DEFAULT_LANGUAGE, **values: Any) -> str:
        """Return the text for a key with its named placeholders filled in."""
        return self.raw(key, language).format(**values).strip()

    def placeholders(self, key: str, language: str = DEFAULT_LANGUAGE) -> set[str]:
        """Name the placeholders a text expects."""
        return {name for _, name, _, _ in string.Formatter().parse(self.raw(key, language)) if name}


def _flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, str]:
    flat: dict[str, str] = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = str(value)
    return flat
