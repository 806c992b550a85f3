"""The project's own fact base: every legal or factual statement the bot makes comes from here.

``content/facts.yml`` holds the vetted facts (drawn from the shared legal-facts research), each with
an ``id`` equal to its row number there (e.g. ``"1.41"``), the instrument, the article, the kind of
rule (statute, judicial interpretation, regulation, national standard, self-regulation, ...), a
summary in our own words, a source and a confidence mark.

Content never writes a citation by hand: it writes ``[[1.41]]`` and :func:`render` replaces the
marker with the fact's ``cite`` string, so that a citation cannot drift from the fact base and a
test can check that every marker resolves.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Dict, List, Optional

from xieshang.content import load

MARKER = re.compile(r"\[\[([0-9]+\.[0-9]+)\]\]")

# Kinds of rule, and how the bot names them to the user.
KIND_LABELS = {
    "statute": "法律",
    "administrative_regulation": "行政法规",
    "judicial_interpretation": "司法解释",
    "regulation": "部门规章/监管规定",
    "national_standard": "国家标准（推荐性）",
    "self_regulation": "行业自律规范",
    "official_notice": "官方公告",
    "fact": "事实",
}


@dataclass(frozen=True)
class Fact:
    id: str
    instrument: str
    article: str
    kind: str
    summary: str
    cite: str
    source: str
    confidence: str

    @property
    def is_law(self) -> bool:
        """True for statutes, regulations and judicial interpretations; False for standards and
        self-regulation, whose breach is grounds for complaint but not in itself unlawful."""
        return self.kind in {"statute", "administrative_regulation", "judicial_interpretation", "regulation"}

    @property
    def kind_label(self) -> str:
        return KIND_LABELS.get(self.kind, self.kind)


@lru_cache(maxsize=1)
def all_facts() -> Dict[str, Fact]:
    data = load("facts") or {}
    facts: Dict[str, Fact] = {}
    for row in data.get("facts", []):
        fact = Fact(
            id=str(row["id"]),
            instrument=row["instrument"],
            article=row.get("article", ""),
            kind=row["kind"],
            summary=row["summary"],
            cite=row["cite"],
            source=row.get("source", ""),
            confidence=row["confidence"],
        )
        if fact.id in facts:
            raise ValueError(f"duplicate fact id {fact.id}")
        facts[fact.id] = fact
    return facts


def get(fact_id: str) -> Fact:
    try:
        return all_facts()[fact_id]
    except KeyError:
        raise KeyError(f"unknown fact id {fact_id!r}: add it to content/facts.yml first") from None


def cite(fact_id: str) -> str:
    return get(fact_id).cite


def markers(text: str) -> List[str]:
    return MARKER.findall(text or "")


def render(text: Optional[str]) -> str:
    """Replace every ``[[id]]`` marker with the fact's citation; unknown ids raise KeyError."""
    if not text:
        return ""
    return MARKER.sub(lambda m: cite(m.group(1)), text)
