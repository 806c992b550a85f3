"""A generated document (call script, message, complaint, note, calendar file).

Actions send it as a ``custom`` payload; the web widget shows it as a card with 复制/下载 and
WeChat flattens it to text. Plain data: no Rasa imports.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict


@dataclass
class Document:
    title: str
    text: str
    filename: str
    mime: str = "text/plain"
    meta: Dict[str, Any] = field(default_factory=dict)

    def to_custom(self) -> Dict[str, Any]:
        """The ``custom`` payload every channel understands."""
        return {
            "type": "document",
            "title": self.title,
            "text": self.text,
            "filename": self.filename,
            "mime": self.mime,
        }

    def as_text(self) -> str:
        """Flattened form for text-only channels (WeChat, terminal)."""
        return f"【{self.title}】\n{self.text}"
