"""The benchmark workload, built from the real corpus in ``../shared/data/corpus``.

* papers: every corpus file, first occurrence of an arXiv id kept (a later duplicate only adds
  sources in the product; here it would only blur the sizes);
* the day's **new** papers: the 2,000 latest announced (by ``published``, then id) — real
  consecutive arXiv days;
* the stored **base** of a size-N database: a fixed-seed random sample of N − 2,000 older papers;
* **profiles**: 1,000 users, each 10–50 👍 papers drawn from one arXiv category around a random
  seed paper (its nearest neighbours by TF-IDF cosine within that category — a member's reading
  is topical, not uniform) plus 0–5 👎 from other categories; 20 channel collections of 30–100
  papers built the same way;
* **queries**: 1,000 ``/papers search`` strings — key phrases of real titles, real author names
  (bare and ``author:``), filtered queries (``cat:``, ``since:``, ``source:hf``) and hostile
  strings (FTS5 syntax, quotes, SQL, emoji, 2,000-character input, empty-ish input).
"""
from __future__ import annotations

import json
import random
import re
from pathlib import Path

import numpy as np

from feeds.corpus import CorpusReader
from feeds.records import Paper

N_NEW = 2000
N_USERS = 1000
N_CHANNELS = 20
N_QUERIES = 1000
SEED = 20261121

HOSTILE = [
    '"', '""', '"unbalanced quote', "*", "***", "NEAR(", "NEAR(a b", "AND", "OR NOT", "a AND OR b",
    "title:", "abstract:reward", "^start", "-negation", "(((", ")))", "{col}:x", "'; DROP TABLE papers; --",
    "Robert'); DROP TABLE students;--", "%", "_", "\\", "\x00null", "C++", "C#", "F# .NET",
    "🤗 transformers 🚀", "日本語 の 論文", "Ünïcödé ñoño", "a" * 2000, "word " * 300, "    ",
    "author:", "cat:", "since:2025-13-45", "since:yesterday", "source:nowhere", 'author:"', "::::",
    "reward*", "lo?al", "[brackets]", "<script>alert(1)</script>", "&amp; &lt;", "SELECT * FROM papers",
    "1=1", "0x00", "rm -rf /", "$(whoami)", "`id`", "\t\n\r", "NOT NOT NOT", "\"\" OR \"\"",
]
_STOP = set("a an the of for and or in on to with via by from at as is are be into using towards toward "
            "its their our we do does can how what when why which".split())


def corpus_files(data_dir: Path) -> list[Path]:
    """The corpus files under ``data_dir/corpus`` (main file first), or [] when absent."""
    d = Path(data_dir) / "corpus"
    if not d.is_dir():
        return []
    return sorted(p for p in d.iterdir() if p.is_file() and (p.name.endswith(".jsonl") or p.name.endswith(".jsonl.gz")))


def load_papers(files: list[Path]) -> list[Paper]:
    """Every paper of `files`, first occurrence of each arXiv id."""
    seen: dict[str, Paper] = {}
    for f in files:
        for p in CorpusReader(f):
            seen.setdefault(p.arxiv_id, p)
    return list(seen.values())


def split_new(papers: list[Paper], n_new: int = N_NEW) -> tuple[list[Paper], list[Paper]]:
    """``(older, new)``: the `n_new` latest announced papers are the day's new ones."""
    dated = sorted(papers, key=lambda p: (p.published or "", p.arxiv_id))
    return dated[:-n_new], dated[-n_new:]


def sample_base(older: list[Paper], size: int, seed: int = SEED) -> list[Paper]:
    """A fixed-seed sample of `size` older papers (all of them when `size` ≥ their number),
    kept in corpus order."""
    if size >= len(older):
        return list(older)
    idx = sorted(random.Random(seed).sample(range(len(older)), size))
    return [older[i] for i in idx]


def _topical_sets(ids: list[str], cats: list[str | None], X, n: int, lo: int, hi: int,
                  rng: np.random.Generator) -> list[tuple[str, list[str], list[str]]]:
    """n sets of `lo`–`hi` ids: a seed paper's nearest neighbours within its category, plus 0–5
    random ids of other categories (negatives). Returns ``[(category, positives, negatives)]``."""
    by_cat: dict[str, list[int]] = {}
    for i, c in enumerate(cats):
        if c:
            by_cat.setdefault(c, []).append(i)
    usable = {c: np.array(v) for c, v in by_cat.items() if len(v) >= hi}
    names = sorted(usable)
    weights = np.array([len(usable[c]) for c in names], dtype=float)
    weights /= weights.sum()
    sub = {c: X[usable[c]] for c in names}
    out = []
    for _ in range(n):
        c = names[rng.choice(len(names), p=weights)]
        pool = usable[c]
        seed_pos = int(rng.integers(len(pool)))
        sims = np.asarray((sub[c] @ sub[c][seed_pos].T).todense()).ravel()
        k = int(rng.integers(lo, hi + 1))
        near = pool[np.argsort(-sims)[:k]]
        others = [o for o in names if o != c] or names
        negs = []
        for _ in range(int(rng.integers(0, 6))):
            oc = others[int(rng.integers(len(others)))]
            negs.append(ids[int(rng.choice(usable[oc]))])
        out.append((c, [ids[i] for i in near], negs))
    return out


def make_profiles(ids: list[str], cats: list[str | None], X, seed: int = SEED) -> dict:
    """``{"users": [{id, category, positives, negatives}], "channels": [{id, collection, category,
    positives}]}`` over the base papers (`ids` in the row order of `X`)."""
    rng = np.random.default_rng(seed)
    users = [{"id": f"U{j:05d}", "category": c, "positives": pos, "negatives": neg}
             for j, (c, pos, neg) in enumerate(_topical_sets(ids, cats, X, N_USERS, 10, 50, rng))]
    channels = [{"id": f"C{j:05d}", "collection": f"bench-{j:02d}-{c}", "category": c, "positives": pos}
                for j, (c, pos, _) in enumerate(_topical_sets(ids, cats, X, N_CHANNELS, 30, 100, rng))]
    return {"users": users, "channels": channels}


def make_queries(papers: list[Paper], n: int = N_QUERIES, seed: int = SEED) -> list[dict]:
    """`n` search queries ``{"kind", "q"}`` drawn from the stored papers (see module docstring)."""
    rng = random.Random(seed)
    with_authors = [p for p in papers if p.authors]
    with_cats = [p for p in papers if p.categories]
    out: list[dict] = []

    def phrase(p: Paper) -> str:
        words = [w for w in re.findall(r"[A-Za-z][A-Za-z0-9\-]+", p.title) if w.lower() not in _STOP]
        if not words:
            return p.title[:30]
        k = rng.randint(2, 4)
        i = rng.randrange(max(1, len(words) - k + 1))
        return " ".join(words[i:i + k])

    for _ in range(int(n * 0.40)):
        out.append({"kind": "title phrase", "q": phrase(rng.choice(papers))})
    for i in range(int(n * 0.25)):
        name = rng.choice(rng.choice(with_authors).authors)
        out.append({"kind": "author", "q": f'author:"{name}"' if i % 2 else name})
    for i in range(int(n * 0.15)):
        p = rng.choice(with_cats)
        filt = [f"cat:{p.categories[0]}", f"since:{(p.published or '2025-01-01')}", "source:hf"][i % 3]
        out.append({"kind": "filtered", "q": f"{filt} {phrase(p)}"})
    while len(out) < n:
        base = HOSTILE[(len(out)) % len(HOSTILE)]
        if len(out) % 3 == 0:
            base = base + " " + phrase(rng.choice(papers))
        out.append({"kind": "hostile", "q": base})
    rng.shuffle(out)
    return out[:n]


def save_json(obj, path: Path) -> None:
    """Write `obj` as JSON."""
    Path(path).write_text(json.dumps(obj))


def load_json(path: Path):
    """Read JSON."""
    return json.loads(Path(path).read_text())
