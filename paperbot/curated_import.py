"""Importing curated databases into collections: ``paperbot import`` and the config's
``[curated] files``.

A curated file (`feeds.curated`) holds paper objects and/or bare arXiv ids per section; bare ids
are resolved from the store, then (``paperbot import`` only) from the arXiv API (`resolve_ids`).
`sync_configured_curated` keeps each configured category's collection equal to what the files
list, so a paper the group deleted stops shaping the channels' profiles.
"""
from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from feeds.arxiv_api import MAX_IDS_PER_CALL, ArxivAPIClient, ArxivAPIError, ArxivAPIRejected
from feeds.curated import CURATED_SOURCE, CuratedFormatError, CuratedParse, collection_name, load_curated, where
from feeds.http import FetchError
from store import Store

log = logging.getLogger(__name__)

LOOKUP_BATCH = MAX_IDS_PER_CALL  # ids per arXiv API look-up
NOT_ON_ARXIV = "not on arXiv"
# an id missing from an answer that was cut short or held fewer papers than it counted, and
# from the answer to the one retry of it (`resolve_ids`)
INCOMPLETE_ANSWER = "not in arXiv's answer, which was incomplete; run the import again to look it up"


@dataclass
class ImportReport:
    """Result of importing a curated database file."""

    collections: dict[str, int] = field(default_factory=dict)  # name -> papers added
    errors: list[tuple[str, int, str]] = field(default_factory=list)  # (section, position, reason)
    papers: int = 0  # usable entries whose paper is stored (imported now or already there)
    removed: dict[str, int] = field(default_factory=dict)  # name -> papers removed (replace=True)
    not_synced: list[str] = field(default_factory=list)  # collections only added to (a bad entry)
    ids: dict[str, list[str]] = field(default_factory=dict)  # name -> the file's stored arXiv ids, in order
    unresolved: dict[str, str] = field(default_factory=dict)  # bare arXiv id -> why no paper was found
    from_store: int = 0  # bare ids found in the store
    fetched: int = 0  # bare ids fetched from the arXiv API (and stored)


@dataclass
class Resolution:
    """What `resolve_ids` found: `fetched` the ids fetched from the arXiv API and stored now,
    `from_store` those already stored, `unresolved` ``{id: why}`` for the rest."""

    from_store: list[str] = field(default_factory=list)
    fetched: list[str] = field(default_factory=list)
    unresolved: dict[str, str] = field(default_factory=dict)


def resolve_ids(store: Store, ids: list[str], arxiv: ArxivAPIClient | None = None,
                batch: int = LOOKUP_BATCH, on_lookup: Callable[[int], None] | None = None,
                on_progress: Callable[[int, int, int], None] | None = None) -> Resolution:
    """Make sure the papers of `ids` (arXiv ids without version) are stored: first from the
    store, then, with `arxiv`, through the arXiv API ``id_list`` look-up, `batch` ids a call
    (≤ `MAX_IDS_PER_CALL`, 100) on that client, so its pacing (≥ 3 s between calls, retries included), retries and
    429/5xx handling (`feeds.http.Fetcher`) apply. A fetched paper is stored at once, with the
    source ``curated`` (a background source: an old paper does not become new in a digest).

    Never raises for the API: an id the API answers without (``not on arXiv``) is unresolved.
    When that answer was incomplete (cut short, or fewer papers than it counted:
    `ArxivAPIClient.lookup`, as when arXiv sends an empty page now and then) the paper may well
    exist, so the ids missing from it are asked for once more, in one call right after (paced
    like any other); those missing from that answer too are unresolved with `INCOMPLETE_ANSWER`
    if it was incomplete as well, else ``not on arXiv``. An
    id list the API refuses with its error feed (a malformed id) is split in halves until the
    refused id is alone; a network failure (after the fetcher's retries) or an answer that is
    not Atom leaves that batch unresolved and stops the look-ups (the rest are reported
    ``not looked up``), so a down or throttling arXiv is not asked again and again. Without
    `arxiv`, ids not stored are unresolved (``not in the database``). `on_lookup(n)` is called
    before the first API call with the number of ids to look up, `on_progress(done, n, fetched)`
    after each API call that settled ids (the ids settled so far out of those `n`, and how many of
    them were fetched): a list of 1,000 ids takes 10 calls 3 s apart, more with retries (the
    fetcher's, and the retry of an incomplete answer).
    Database errors are raised; the papers of each answer are stored before the next call, so an
    interrupted look-up (KeyboardInterrupt) keeps what was fetched and a second run does not
    ask for it again.
    """
    ids = list(dict.fromkeys(ids))
    stored = store.get_papers(ids)
    out = Resolution(from_store=[a for a in ids if a in stored])
    missing = [a for a in ids if a not in stored]
    if not missing:
        return out
    if arxiv is None:
        out.unresolved = {a: "not in the database; not looked up on arXiv" for a in missing}
        return out
    if on_lookup is not None:
        on_lookup(len(missing))
    batch = max(1, min(batch, LOOKUP_BATCH))
    # (ids, is a retry): the ids missing from an incomplete answer are asked for once more
    queue = [(missing[i:i + batch], False) for i in range(0, len(missing), batch)]
    failure: str | None = None
    done = 0
    while queue:
        chunk, retry = queue.pop(0)
        if failure is not None:
            out.unresolved.update({a: f"not looked up after the arXiv API failed ({failure})" for a in chunk})
            continue
        try:
            answer = arxiv.lookup(chunk)
        except ArxivAPIRejected as exc:
            if len(chunk) > 1:  # one id of the list is refused: find it, look the others up
                half = len(chunk) // 2
                queue[:0] = [(chunk[:half], retry), (chunk[half:], retry)]
                continue
            out.unresolved[chunk[0]] = f"arXiv refused it: {_api_reason(exc)}"
            done += 1
            if on_progress is not None:
                on_progress(done, len(missing), len(out.fetched))
            continue
        except (ArxivAPIError, FetchError) as exc:
            failure = _api_reason(exc)
            log.warning("arXiv API look-up failed; %d ids left unresolved: %s",
                        len(chunk) + sum(len(c) for c, _ in queue), failure)
            out.unresolved.update({a: f"arXiv API failed: {failure}" for a in chunk})
            continue
        wanted = set(chunk)
        found = {p.arxiv_id: dataclasses.replace(p, sources=[CURATED_SOURCE])
                 for p in answer.papers if p.arxiv_id in wanted}
        if found:
            store.upsert_papers(found.values())
        out.fetched += [a for a in chunk if a in found]
        absent = [a for a in chunk if a not in found]
        settled = len(chunk)
        if absent and not answer.complete and not retry:  # ask once more, next: they may well exist
            log.info("arXiv's answer was incomplete; asking again for the %d ids missing from it", len(absent))
            queue.insert(0, (absent, True))
            settled -= len(absent)
        else:
            why = NOT_ON_ARXIV if answer.complete else INCOMPLETE_ANSWER
            out.unresolved.update({a: why for a in absent})
        done += settled
        if on_progress is not None and settled:
            on_progress(done, len(missing), len(out.fetched))
    return out


def _api_reason(exc: Exception) -> str:
    """One short line for an arXiv API failure (a `FetchError` without its URL)."""
    text = exc.reason if isinstance(exc, FetchError) else str(exc)
    return text.removeprefix("arXiv API error: ")[:200]


def import_curated(store: Store, path: str, replace: bool = False, arxiv: ArxivAPIClient | None = None,
                   collection: str | None = None, batch: int = LOOKUP_BATCH,
                   on_lookup: Callable[[int], None] | None = None,
                   on_progress: Callable[[int, int, int], None] | None = None,
                   parsed: CuratedParse | None = None) -> ImportReport:
    """Import a curated database file (`feeds.curated`: paper objects and/or bare arXiv ids per
    section) into collections: one per section, named by `feeds.curated.collection_name`, or
    all into `collection` when it is given.

    Paper objects are stored as they are; bare ids are resolved by `resolve_ids` (the store,
    then the arXiv API when `arxiv` is given; `batch` ids a call, `on_lookup` and `on_progress` as
    there). An id
    that cannot be resolved is reported in `ImportReport.unresolved` and left out; the rest
    lands. Bad entries are reported (section, position, reason) and skipped.

    By default papers are only added. With `replace`, each collection is made to hold exactly
    the file's stored papers of it (`Store.sync_collection`; counts in `ImportReport.removed`),
    except one with a bad entry, whose paper cannot be told (added to only, listed in
    `ImportReport.not_synced`); an unresolved id does not hold the sync back (its paper is not
    stored, so it is in no collection). Collections the file does not name are left alone.

    `parsed`: the file as `feeds.curated.load_curated` already read it (``paperbot import``
    reads it before opening the database, so an unusable file creates none); else it is read
    from `path` here.

    Raises:
        feeds.curated.CuratedFormatError / OSError: the file as a whole is unusable.
    """
    if parsed is None:
        parsed = load_curated(path)
    report = ImportReport(errors=parsed.errors)
    objects = [p for papers in parsed.collections.values() for p in papers]
    if objects:
        store.upsert_papers(objects)
    found = resolve_ids(store, parsed.bare_ids(), arxiv, batch, on_lookup, on_progress)
    report.from_store, report.fetched, report.unresolved = len(found.from_store), len(found.fetched), found.unresolved
    name_of = (lambda section: collection) if collection else collection_name
    targets: dict[str, list[str]] = {}
    for section, ids in parsed.ids.items():
        kept = [a for a in ids if a not in found.unresolved]
        report.papers += len(kept)
        targets.setdefault(name_of(section), []).extend(kept)
    bad = {name_of(section) for section, _, _ in parsed.errors}
    for name, ids in targets.items():
        ids = report.ids[name] = list(dict.fromkeys(ids))
        if replace and name not in bad:
            report.collections[name], report.removed[name] = store.sync_collection(name, ids)
        else:
            report.collections[name] = store.add_to_collection(name, ids)
            if replace:
                report.not_synced.append(name)
    return report


def import_configured_curated(store: Store, path: str) -> tuple[str | None, ImportReport | None]:
    """Import one curated file named in the config's ``[curated] files`` (adding papers only).

    Returns ``(problem, report)``: problem is None when the file went in, else one line saying
    why not (missing, unreadable, not a curated database, no usable paper); report is the
    `ImportReport` whenever the file could be read. Bad entries of a usable file are logged
    (warning) and skipped. Bare arXiv ids are resolved from the store only (a run makes no
    arXiv API look-ups: `paperbot import` does); those not stored are logged and left out.
    Never raises for the file itself, so one bad file cannot cost the run
    its polls (rss.arxiv.org does not replay a missed day); database errors are raised as usual.
    `sync_configured_curated` builds on it to also remove what the files no longer list."""
    try:
        rep = import_curated(store, path)
    except FileNotFoundError:
        return ("no such file; point [curated] files at your group's curated database, in the "
                "format of paperbot/data/papers_database.sample.json"), None
    except IsADirectoryError:
        return "is a folder, not a curated database file", None
    except OSError as exc:
        return f"cannot read it: {exc.strerror or exc}", None
    except CuratedFormatError as exc:
        return str(exc), None
    for cat, pos, reason in rep.errors:
        log.warning("curated %s: skipped %s: %s", path, where(cat, pos), reason)
    if rep.unresolved:
        shown = ", ".join(list(rep.unresolved)[:10]) + (", …" if len(rep.unresolved) > 10 else "")
        log.warning("curated %s: %d arXiv ids are not in the store and left out (%s); a run looks ids "
                    "up only there: `paperbot import %s` fetches them from the arXiv API",
                    path, len(rep.unresolved), shown, path)
    if rep.papers == 0:
        skipped = f", {len(rep.errors)} entries or categories skipped" if rep.errors else ""
        missing = (f", {len(rep.unresolved)} arXiv ids not in the store (`paperbot import FILE` "
                   "fetches them from arXiv)" if rep.unresolved else "")
        return (f"no usable paper in it{skipped}{missing}; the format is "
                "{category: [papers or arXiv ids]}"), rep
    return None, rep


def sync_configured_curated(store: Store, paths: list[str]) -> tuple[list[tuple[str, str]], dict[str, int]]:
    """Import the config's ``[curated] files`` and make each category's collection (named by
    `feeds.curated.collection_name`) hold exactly the union of that category's stored papers
    over all the files (in file order): a paper the group
    deleted from its file leaves the collection, so it stops shaping the channels' profiles.

    Returns ``(problems, removed)``: one ``(path, why)`` per file that could not be imported (as
    `import_configured_curated` says it) and ``{collection: papers removed}`` for collections
    that lost papers. Removal is held back where the files cannot say what a collection should
    hold: when any file could not be imported (its categories are unknown) nothing is removed,
    and a category with a bad entry in any file is only added to (the entry's paper is
    unknown). Collections of categories no file holds (e.g. from ``paperbot import``) are left
    alone. Never raises for a file; database errors are raised as usual.
    """
    problems: list[tuple[str, str]] = []
    union: dict[str, list[str]] = {}
    bad: set[str] = set()
    for path in paths:
        problem, rep = import_configured_curated(store, path)
        if problem:
            problems.append((path, problem))
            continue
        for name, ids in rep.ids.items():
            union.setdefault(name, []).extend(ids)
        bad |= {collection_name(cat) for cat, _, _ in rep.errors}
    removed: dict[str, int] = {}
    if problems:
        if union:
            log.warning("curated: %d configured file(s) could not be imported; no paper is removed "
                        "from a collection this run", len(problems))
        return problems, removed
    for name, ids in union.items():
        if name in bad:
            log.warning("curated: collection %s keeps papers its files no longer list, because an "
                        "entry of it could not be read", name)
            continue
        _, n = store.sync_collection(name, ids)
        if n:
            log.info("curated: %d papers removed from collection %s (no configured file lists them)", n, name)
            removed[name] = n
    return problems, removed
