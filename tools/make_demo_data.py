"""Rebuild the demo's bundled captures in paperbot/data/ from ../shared/data (run by hand).

- ``atom_cs.AI_2025-08-20.xml``: the real rss.arxiv.org Atom document, less the three entries
  that zotero-arxiv-daily's test suite appended to it (``SCAFFOLDING_IDS``: one-sentence
  abstracts, authors "Some Author", "Alice Smith, Bob Jones", "Carol White, Dave Brown"; their
  arXiv ids belong to other papers). A demo must not recommend papers that do not exist; the
  verbatim document, scaffolding included, stays in ``tests/fixtures/arxiv_rss/`` for the parser
  tests.
- ``hf_daily_*.json``: real HF daily-papers responses, copied as is.
- ``arxiv_api_<day>.xml``: *derived* — the six real arXiv listing days of ``corpus/raw/``
  (2025-03-20 … 2026-06-30: ids, titles, abstracts, authors, categories as arXiv gave them)
  written out in the arXiv API's Atom response format, so the demo polls them through the same
  API parser that handles live responses, and the store holds a few months' worth of papers
  (the ranker contrasts a channel's papers with the feed at large).
- ``papers_database.sample.json``: the curated sample.

Usage: python tools/make_demo_data.py [SHARED_DATA_DIR]
"""
import argparse
import json
import re
import shutil
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

HERE = Path(__file__).resolve().parent.parent / "paperbot" / "data"
SCAFFOLDING_IDS = ("2508.13435", "2508.14001", "2508.14002")


def without_entries(atom: str, ids) -> str:
    """``atom`` with every ``<entry>`` whose ``<id>`` is ``oai:arXiv.org:ID vN`` for an ID in
    ``ids`` removed (text surgery, so the rest of the document stays byte for byte)."""
    pattern = re.compile(r"  <entry>\n    <id>oai:arXiv\.org:(?P<id>[^<]+?)v\d+</id>.*?</entry>\n", re.S)
    out = pattern.sub(lambda m: "" if m.group("id") in ids else m.group(0), atom)
    removed = len(pattern.findall(atom)) - len(pattern.findall(out))
    if removed != len(ids):
        raise SystemExit(f"expected to drop {len(ids)} scaffolding entries, dropped {removed}")
    return out


def api_atom(papers, day: str) -> str:
    out = ['<?xml version="1.0" encoding="UTF-8"?>',
           '<feed xmlns="http://www.w3.org/2005/Atom" xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/" '
           'xmlns:arxiv="http://arxiv.org/schemas/atom">',
           f"  <id>https://arxiv.org/api/demo-{day}</id>",
           f"  <title>arXiv Query: listing of {day} (derived from corpus/raw/{day}.jsonl)</title>",
           f"  <updated>{day}T00:00:00Z</updated>",
           f"  <opensearch:itemsPerPage>{len(papers)}</opensearch:itemsPerPage>",
           f"  <opensearch:totalResults>{len(papers)}</opensearch:totalResults>",
           "  <opensearch:startIndex>0</opensearch:startIndex>"]
    for p in papers:
        out.append("  <entry>")
        out.append(f"    <id>http://arxiv.org/abs/{escape(p['id'])}v1</id>")
        out.append(f"    <title>{escape(p['title'])}</title>")
        out.append(f"    <updated>{day}T00:00:00Z</updated>")
        out.append(f"    <published>{day}T00:00:00Z</published>")
        out.append(f"    <summary>{escape(p['summary'])}</summary>")
        for a in p.get("authors") or []:
            out.append(f"    <author><name>{escape(a)}</name></author>")
        cats = p.get("categories") or []
        if cats:
            out.append(f"    <arxiv:primary_category term={quoteattr(cats[0])}/>")
        for c in cats:
            out.append(f"    <category term={quoteattr(c)} scheme=\"http://arxiv.org/schemas/atom\"/>")
        out.append(f"    <link href=\"https://arxiv.org/abs/{escape(p['id'])}v1\" rel=\"alternate\" type=\"text/html\"/>")
        out.append(f"    <link href=\"https://arxiv.org/pdf/{escape(p['id'])}v1\" rel=\"related\" type=\"application/pdf\" title=\"pdf\"/>")
        out.append("  </entry>")
    out.append("</feed>")
    return "\n".join(out) + "\n"


def main(shared: Path) -> None:
    HERE.mkdir(parents=True, exist_ok=True)
    atom = (shared / "arxiv_rss" / "atom_cs.AI_2025-08-20.xml").read_text(encoding="utf-8")
    (HERE / "atom_cs.AI_2025-08-20.xml").write_text(without_entries(atom, SCAFFOLDING_IDS), encoding="utf-8")
    for day in ("2026-02-18", "2026-08-21"):
        shutil.copy(shared / "hf_daily" / "days" / f"{day}.json", HERE / f"hf_daily_{day}.json")
    shutil.copy(shared / "seeds" / "papers_database.sample.json", HERE)
    for raw in sorted((shared / "corpus" / "raw").glob("*.jsonl")):
        day = raw.stem
        papers = [json.loads(line) for line in open(raw)]
        (HERE / f"arxiv_api_{day}.xml").write_text(api_atom(papers, day), encoding="utf-8")
    print(f"wrote demo data to {HERE}")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=f"Rebuild the demo's bundled captures in {HERE} from the shared real data.")
    ap.add_argument("shared", nargs="?", type=Path, metavar="SHARED_DATA_DIR",
                    default=Path(__file__).resolve().parents[2] / "shared" / "data",
                    help="the shared data folder (default: ../shared/data next to this repository)")
    args = ap.parse_args()
    missing = [str(args.shared / d) for d in ("arxiv_rss", "hf_daily", "seeds", "corpus/raw") if not (args.shared / d).is_dir()]
    if missing:
        ap.error(f"{args.shared}: not the shared data folder (no {', '.join(missing)})")
    main(args.shared)
