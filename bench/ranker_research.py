"""Ranker research, third to seventh passes — run by hand, prints figures (never a unit test).

    python bench/ranker_research.py [--data ../shared/data] [--feedback] [--round 3|4|5|6|7]

Reproduces the figures quoted in README.md ("Evaluation") and in `recommender/ranker.py` for the
variants tried against the shipped production ranker on the dev tasks. Each variant ranks every
task's candidates from its curated papers only, exactly as ``paperbot eval`` does (same corpus
loader, same per-window TF-IDF, same background sample, same metrics); ``relevant`` is read only
to score. Printed per variant: MAP, nDCG@20, Recall@50, P@10 and the per-task AP.

Variants:

* ``production``        — `recommender.evaluation.static_scores("production", …)`, the baseline;
* ``hf-prior w/i``      — + w·log(1+HF upvotes) + i·[on HF daily papers];
* ``id-age w``          — + w·log(1 + months between the arXiv id's YYMM and the announcement):
                          a replacement of an old paper ("announce type: replace") gets a bonus;
* ``vocab N``           — the production vectorizer with ``max_features`` N (None = no cap);
* ``cand-background``   — the window's own candidates as the Rocchio background;
* ``mmr λ``             — maximal marginal relevance (Carbonell & Goldstein, SIGIR 1998) over
                          the top 200, λ·z(score) − (1−λ)·5·max cosine to the picked ones;
* ``nb-hardneg``        — naive-Bayes log-count ratio (Wang & Manning, ACL 2012) of curated vs
                          the 1,000 earlier papers the profile scores highest, z-blended 0.3:1
                          with the Rocchio score over the top 1,000;
* ``lr-hardneg N w``    — logistic regression (C=1, balanced) of curated vs the N hard
                          negatives, z-blended w:1 over the top 1,000.

Fourth pass (``--round 4`` runs only these, plus the baseline):

* ``prolific max|sum w`` — + w·log(1 + papers the candidate's most prolific author (or all its
                          authors together) had in the corpus before the split): a "known group"
                          prior;
* ``coauthor2 w``       — + w·log(1 + authors of the candidate who co-wrote an earlier paper with
                          an author of a curated paper but are not curated authors themselves):
                          two hops in the co-author graph;
* ``names w``           — + w·log(1 + curated method names the candidate mentions), a name being a
                          curated title's part before ':' of ≤ 2 words ("DAPO", "s1", "LIMO");
* ``smooth a``          — cluster-hypothesis score regularisation (Diaz, SIGIR 2005) over the
                          top 2,000: z(s) + a·(cosine-weighted mean z of the 10 nearest candidates);
* ``lr+coauthor2 w``    — coauthor2 w added before the ``lr-hardneg 1000 0.3`` blend.

Fifth pass (``--round 5`` runs only these, plus the baseline) — "style" signals that, inside the
production top 500, separate picked from unpicked papers on most tasks (ROC AUC 0.55-0.75):

* ``pivot a``           — pivoted unique-term length normalisation (Singhal, Buckley & Mitra, SIGIR
                          1996) of the Rocchio cosine: cos · √u / ((1−a)·√ū + a·√u), u = distinct
                          terms of the paper, ū their mean over the candidates;
* ``abstract-length w`` — + w·log(characters of the abstract);
* ``short-title w``     — − w·log(characters of the title);
* ``percent w``         — + w·log(1 + percentages quoted in the abstract ("improves by 12.5%"));
* ``char``, ``word+char w`` — a Rocchio profile (same β, same background sample) in a character
                          3-5-gram TF-IDF space (hashed, 2^20 features, IDF on 20,000 papers
                          before the window's end), alone and z-blended w:1 with the production
                          score (meant to catch "RLHF"/"RLAIF"-style variants the word space splits;
                          ~4 minutes more).

Sixth pass (``--round 6``) — a *diagnostic*, not a ranker: how far can this model family go
if it is handed part of the answer? It reads ``relevant`` (so it could never ship): each task's
relevant papers are split by announcement date into the earlier half A and the later half B; A
leaves the candidates and B is what is scored (MAP etc. over B, candidates without A):

* ``split: curated only`` — the production profile, the reference for the rows below;
* ``oracle: A as curated``— A joins the curated papers (weight 1);
* ``oracle: A as 👍``     — A given as 👍 through ``Profile.add_feedback`` (weight 10, plus the
                          more-like-this term): every earlier relevant paper found and liked,
                          more than any feedback simulation can give;
* ``oracle: A only``      — a profile of A alone (no curated papers);
* ``oracle: max cosine to A`` — each candidate scored by its TF-IDF cosine to the nearest paper
                          of A (do the list's picks of one month sit next to those of the next?).

Seventh pass (``--round 7`` runs only these, plus the baseline):

* ``code w``            — + w·[the abstract links code or a project page (a URL, "github", "code is
                          available")]: awesome-lists favour papers with released code;
* ``title-field w``     — BM25F-style field weighting: the cosine to the centroid of the curated
                          papers' title-only TF-IDF vectors (word 1-2-grams, sublinear tf, min_df 2,
                          max_df 0.1, fitted on the titles announced up to the window's end), z-blended w:1 with the production score
                          over the top 1,000 (``title-field only`` ranks by it alone).

With ``--feedback`` it also runs the feedback simulation of ``paperbot eval --feedback-sim``
(top 5 a day, 👍/👎 through ``Profile.add_feedback``) with the ``lr-hardneg 1000 0.3`` re-rank
refitted after each day with feedback (👍 join the positives, 👎 the hard negatives), and prints
the hits with and without feedback (~2 minutes more).

Set ``PAPERBOT_CACHE_DIR`` to reuse the tokenised corpus between runs (see
`recommender.evaluation.get_corpus`). Exits 0 with a message when the data is missing.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.shared_data import add_data_argument, dev_inputs  # noqa: E402
from feeds.records import norm_author  # noqa: E402
from recommender import evaluation as E  # noqa: E402
from recommender import ranker as R  # noqa: E402



def _z(v: np.ndarray, idx: np.ndarray) -> np.ndarray:
    return (v - v[idx].mean()) / (v[idx].std() + 1e-12)


def _blend_top(s: np.ndarray, d: np.ndarray, w: float, top: int) -> np.ndarray:
    """Re-rank the top `top` of `s` by z(s) + w·z(d); the rest keep their order below."""
    o = np.argsort(-s, kind="stable")[:top]
    out = s.copy()
    out[o] = 1e6 + _z(s, o)[o] + w * _z(d, o)[o]
    return out


def print_means(label: str, per_task: list[dict]) -> dict:
    """Print one line — the mean of each metric in `E.METRIC_NAMES` over `per_task` (one
    `E.task_metrics` dict a task) and the per-task AP — and return the means."""
    mean = {k: float(np.mean([m[k] for m in per_task])) for k in E.METRIC_NAMES}
    print(f"{label:28s} MAP {mean['AP']:.3f}  nDCG@20 {mean['nDCG@20']:.3f}  R@50 {mean['R@50']:.3f}  "
          f"P@10 {mean['P@10']:.3f}   AP/task " + " ".join(f"{m['AP']:.2f}" for m in per_task), flush=True)
    return mean


def split_relevant(task: dict, corpus: E.EvalCorpus) -> tuple[set[str], list[str]]:
    """(A, B) for the sixth-pass oracle: the earlier and later halves of the task's relevant
    papers (those in the corpus) by announcement date; B gets the extra one when the count is odd."""
    rel = sorted((corpus.published[corpus.rows[a]], a) for a in task["relevant"] if a in corpus.rows)
    half = len(rel) // 2
    return {a for _, a in rel[:half]}, [a for _, a in rel[half:]]


class Research:
    def __init__(self, corpus: E.EvalCorpus, tasks: list[dict]):
        self.C = corpus
        self.setups = [(t, E._setup(t, corpus)) for t in tasks]
        self._base: dict = {}

    def base(self, t, st):
        """(production scores, X, earlier non-curated rows sorted by profile score, profile)."""
        key = (t["name"], t["split"])
        if key not in self._base:
            prof, X = E.make_profile(st, self.C)
            s = prof.score(X[st.cand_rows], self.C.meta.subset(st.cand_rows))
            pre = np.setdiff1d(np.flatnonzero(self.C.published < t["split"]), st.cur_rows)
            sp_ = np.asarray(X[pre] @ prof.query).ravel()
            self._base[key] = (s, X, pre[np.argsort(-sp_, kind="stable")], prof)
        return self._base[key]

    def evaluate(self, label: str, score_fn) -> dict:
        ms = [E.task_metrics(E.rank_ids(st.cand_ids, score_fn(t, st)) + st.missing, t["relevant"])
              for t, st in self.setups]
        return print_means(label, ms)

    # -- variants ---------------------------------------------------------------------
    def production(self, t, st):
        return self.base(t, st)[0]

    def hf_prior(self, w, i):
        def f(t, st):
            meta = self.C.meta.subset(st.cand_rows)
            return self.base(t, st)[0] + w * np.log1p(meta.hf_upvotes) + i * (meta.hf_upvotes > 0)
        return f

    def id_age(self, w):
        import re

        def months(pid: str, day: str) -> int:
            m = re.match(r"^(\d{2})(\d{2})\.\d{4,5}$", pid)
            if not m:  # old-style ids (hep-th/9901001) are old by definition
                return 120
            return min(max((int(day[:4]) - 2000 - int(m.group(1))) * 12 + int(day[5:7]) - int(m.group(2)), 0), 120)

        def f(t, st):
            ages = [months(pid, self.C.published[r]) for pid, r in zip(st.cand_ids, st.cand_rows)]
            return self.base(t, st)[0] + w * np.log1p(ages)
        return f

    def vocab(self, max_features, background="history"):
        def f(t, st):
            _, X = self.C.window(E.window_end(t), dict(R.PRODUCTION_TFIDF_PARAMS, max_features=max_features))
            bg = E.background_rows(self.C, t["split"]) if background == "history" else st.cand_rows
            prof = R.Profile(X[st.cur_rows], X_background=X[bg],
                             positive_authors=[self.C.papers[r]["authors"] for r in st.cur_rows])
            return prof.score(X[st.cand_rows], self.C.meta.subset(st.cand_rows))
        return f

    def mmr(self, lam, top=200):
        def f(t, st):
            s, X, _, _ = self.base(t, st)
            o = np.argsort(-s, kind="stable")[:top]
            Xc = X[st.cand_rows[o]]
            S = (Xc @ Xc.T).toarray()
            z = (s[o] - s[o].mean()) / (s[o].std() + 1e-12)
            picked, left, best_sim = [], list(range(len(o))), np.zeros(len(o))
            while left:
                j = max(left, key=lambda i: lam * z[i] - (1 - lam) * 5 * best_sim[i])
                picked.append(j)
                left.remove(j)
                best_sim = np.maximum(best_sim, S[j])
            out = s.copy()
            out[o[picked]] = 1e6 - np.arange(len(picked))
            return out
        return f

    def nb_hardneg(self, n_neg=1000, w=0.3, alpha=0.1):
        def f(t, st):
            s, X, hard, _ = self.base(t, st)
            p = np.asarray(X[st.cur_rows].sum(axis=0)).ravel() + alpha
            n = np.asarray(X[hard[:n_neg]].sum(axis=0)).ravel() + alpha
            r = np.log(p / p.sum()) - np.log(n / n.sum())
            return _blend_top(s, np.asarray(X[st.cand_rows] @ r).ravel(), w, 1000)
        return f

    def lr_hardneg(self, n_neg=1000, w=0.3):
        from sklearn.linear_model import LogisticRegression

        def f(t, st):
            s, X, hard, _ = self.base(t, st)
            neg = hard[:n_neg]
            y = np.r_[np.ones(len(st.cur_rows)), np.zeros(len(neg))]
            clf = LogisticRegression(C=1.0, class_weight="balanced", max_iter=1000)
            clf.fit(X[np.r_[st.cur_rows, neg]], y)
            return _blend_top(s, clf.decision_function(X[st.cand_rows]), w, 1000)
        return f

    def lr_hardneg_feedback_hits(self, t, st, use_feedback: bool, n_neg=1000, w=0.3, per_day=5) -> int:
        """Hits of the feedback simulation with the lr-hardneg re-rank (z-blend over each day)."""
        from sklearn.linear_model import LogisticRegression

        _, X, hard, _ = self.base(t, st)
        prof, X = E.make_profile(st, self.C)
        rel, neg, meta = set(t["relevant"]), list(hard[:n_neg]), self.C.meta
        days: dict = {}
        for pos, r in enumerate(st.cand_rows):
            days.setdefault(self.C.published[r], []).append(pos)
        likes, dislikes, hits, clf = [], [], 0, None
        for day in sorted(days):
            pos = np.array(days[day])
            rows = st.cand_rows[pos]
            s = prof.score(X[rows], meta.subset(rows))
            if clf is None:
                P, N = list(st.cur_rows) + likes, neg + dislikes
                y = np.r_[np.ones(len(P)), np.zeros(len(N))]
                clf = LogisticRegression(C=1.0, class_weight="balanced", max_iter=1000).fit(X[P + N], y)
            d = clf.decision_function(X[rows])
            all_ = np.arange(len(s))
            s = _z(s, all_) + w * _z(d, all_)
            for i in np.argsort(-s, kind="stable")[:per_day]:
                liked = st.cand_ids[pos[i]] in rel
                hits += liked
                if use_feedback:
                    prof.add_feedback(X[rows[i]], 1 if liked else -1, authors=self.C.papers[rows[i]]["authors"])
                    (likes if liked else dislikes).append(int(rows[i]))
                    clf = None  # refit before the next day
        return hits

    # -- fourth pass ------------------------------------------------------------------
    def _author_sets(self):
        if not hasattr(self, "_asets"):
            self._asets = [frozenset(norm_author(a) for a in p.get("authors") or []) for p in self.C.papers]
        return self._asets

    def _earlier(self, split: str) -> np.ndarray:
        return np.flatnonzero(self.C.published < split)

    def prolific(self, w, agg="max"):
        import collections

        counts: dict = {}

        def f(t, st):
            A = self._author_sets()
            if t["split"] not in counts:
                counts[t["split"]] = collections.Counter(a for r in self._earlier(t["split"]) for a in A[r])
            c = counts[t["split"]]
            pick = (lambda xs: max(xs, default=0)) if agg == "max" else sum
            v = np.array([pick([c[a] for a in A[r]]) for r in st.cand_rows])
            return self.base(t, st)[0] + w * np.log1p(v)
        return f

    def coauthor2_feature(self, t, st) -> np.ndarray:
        key = (t["name"], t["split"])
        cache = self.__dict__.setdefault("_co2", {})
        if key not in cache:
            A = self._author_sets()
            cur = frozenset().union(*(A[r] for r in st.cur_rows))
            co = set()
            for r in self._earlier(t["split"]):
                if A[r] & cur:
                    co |= A[r]
            co -= cur
            cache[key] = np.log1p([len(A[r] & co) for r in st.cand_rows])
        return cache[key]

    def coauthor2(self, w):
        return lambda t, st: self.base(t, st)[0] + w * self.coauthor2_feature(t, st)

    def names(self, w):
        import re

        def f(t, st):
            heads = {self.C.papers[r]["title"].split(":")[0].strip().lower() for r in st.cur_rows
                     if ":" in self.C.papers[r]["title"]}
            pats = [re.compile(r"\b" + re.escape(h) + r"\b") for h in heads if 2 <= len(h) <= 20 and len(h.split()) <= 2]
            v = [sum(1 for p in pats if p.search((self.C.papers[r]["title"] + " " + self.C.papers[r]["abstract"]).lower()))
                 for r in st.cand_rows]
            return self.base(t, st)[0] + w * np.log1p(v)
        return f

    def smooth(self, a, k=10, top=2000):
        def f(t, st):
            s, X, _, _ = self.base(t, st)
            o = np.argsort(-s, kind="stable")[:top]
            Xc = X[st.cand_rows[o]]
            S = (Xc @ Xc.T).toarray()
            np.fill_diagonal(S, 0)
            nn = np.argpartition(-S, k, axis=1)[:, :k]
            W = np.take_along_axis(S, nn, axis=1)
            z = _z(s, o)[o]
            out = s.copy()
            out[o] = 1e6 + z + a * (W * z[nn]).sum(1) / (W.sum(1) + 1e-9)
            return out
        return f

    def pivot(self, a):
        def f(t, st):
            s, X, _, prof = self.base(t, st)
            Xc = X[st.cand_rows]
            cos = np.asarray(Xc @ prof.query).ravel()
            u = np.sqrt(Xc.getnnz(axis=1).astype(float))
            return s - cos + cos * u / ((1 - a) * u.mean() + a * u)
        return f

    def style(self, kind, w):
        import re

        def value(p):
            if kind == "abstract-length":
                return np.log(len(p["abstract"]) + 1.0)
            if kind == "short-title":
                return -np.log(len(p["title"]) + 1.0)
            return np.log1p(len(re.findall(r"\d+(?:\.\d+)?\s?%", p["abstract"])))

        return lambda t, st: self.base(t, st)[0] + w * np.array([value(self.C.papers[r]) for r in st.cand_rows])

    def char_scores(self, t, st):
        from sklearn.feature_extraction.text import HashingVectorizer, TfidfTransformer

        key = (t["name"], t["split"])
        cache = self.__dict__.setdefault("_char", {})
        if key not in cache:
            pool = np.flatnonzero(self.C.published < E.window_end(t))
            idf_rows = np.sort(np.random.default_rng(1).choice(pool, min(20000, len(pool)), replace=False))
            bg = E.background_rows(self.C, t["split"])
            rows = np.unique(np.concatenate([idf_rows, bg, st.cur_rows, st.cand_rows]))
            at = {r: i for i, r in enumerate(rows)}
            hv = HashingVectorizer(analyzer="char_wb", ngram_range=(3, 5), n_features=2**20,
                                   alternate_sign=False, norm=None)
            H = hv.transform([R.paper_text(self.C.papers[r]["title"], self.C.papers[r]["abstract"]) for r in rows])
            X = TfidfTransformer(sublinear_tf=True).fit(H[[at[r] for r in idf_rows]]).transform(H)
            # the production Rocchio query (β, background contrast), built in the char space
            q = R.Profile(X[[at[r] for r in st.cur_rows]], X_background=X[[at[r] for r in bg]]).query
            cache[key] = np.asarray(X[[at[r] for r in st.cand_rows]] @ q).ravel()
        return cache[key]

    def word_char(self, w):
        return lambda t, st: _blend_top(self.production(t, st), self.char_scores(t, st), w, len(st.cand_rows))

    def lr_coauthor2(self, w):
        lr = self.lr_hardneg(1000, 0.3)

        def f(t, st):
            s, X, hard, prof = self.base(t, st)
            boosted = s + w * self.coauthor2_feature(t, st)
            key = (t["name"], t["split"])
            self._base[key] = (boosted, X, hard, prof)  # lr_hardneg reads the base score
            try:
                return lr(t, st)
            finally:
                self._base[key] = (s, X, hard, prof)
        return f

    # -- seventh pass ---------------------------------------------------------------------
    CODE_LINK = r"github\.com|gitlab|huggingface\.co|https?://|code (?:is|and \w+ are|will be) (?:publicly )?(?:available|released)"

    def code(self, w):
        import re

        pat = re.compile(self.CODE_LINK, re.I)
        has = self.__dict__.get("_code")
        if has is None:
            has = self._code = np.array([bool(pat.search(p["abstract"] or "")) for p in self.C.papers])
        return lambda t, st: self.base(t, st)[0] + w * has[st.cand_rows]

    def title_scores(self, t, st):
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.preprocessing import normalize

        key = (t["name"], t["split"])
        cache = self.__dict__.setdefault("_title", {})
        if key not in cache:
            titles = [p["title"] or "" for p in self.C.papers]
            v = TfidfVectorizer(ngram_range=(1, 2), stop_words="english", sublinear_tf=True, min_df=2, max_df=0.1)
            v.fit([titles[i] for i in np.flatnonzero(self.C.published <= E.window_end(t))])
            q = normalize(np.asarray(v.transform([titles[r] for r in st.cur_rows]).mean(axis=0))).ravel()
            cache[key] = np.asarray(v.transform([titles[r] for r in st.cand_rows]) @ q).ravel()
        return cache[key]

    def title_field(self, w):
        return lambda t, st: _blend_top(self.production(t, st), self.title_scores(t, st), w, 1000)

    # -- sixth pass: a diagnostic that reads `relevant` (never a ranker) -------------------
    def oracle_split(self) -> None:
        """Print MAP / nDCG@20 / R@50 / P@10 over the later half B of each task's relevant
        papers, candidates without the earlier half A, for the profiles in the module docstring
        (sixth pass)."""
        rows = {"split: curated only": [], "oracle: A as curated": [], "oracle: A as 👍": [],
                "oracle: A only": [], "oracle: max cosine to A": []}
        for t, st in self.setups:
            A, B = split_relevant(t, self.C)
            keep = np.array([i for i, a in enumerate(st.cand_ids) if a not in A], dtype=np.int64)
            ids = [st.cand_ids[i] for i in keep]
            crows = st.cand_rows[keep]
            a_rows = np.array([self.C.rows[a] for a in sorted(A)], dtype=np.int64)
            _, X, _, prof = self.base(t, st)
            bg = X[E.background_rows(self.C, t["split"])]
            meta = self.C.meta.subset(crows)
            authors = lambda rr: [self.C.papers[r]["authors"] for r in rr]  # noqa: E731
            profs = {
                "split: curated only": prof,
                "oracle: A as curated": R.Profile(X[np.r_[st.cur_rows, a_rows]], X_background=bg,
                                                  positive_authors=authors(np.r_[st.cur_rows, a_rows])),
                "oracle: A only": R.Profile(X[a_rows], X_background=bg, positive_authors=authors(a_rows)),
            }
            liked = R.Profile(X[st.cur_rows], X_background=bg, positive_authors=authors(st.cur_rows))
            for r in a_rows:
                liked.add_feedback(X[r], 1, self.C.papers[r]["authors"])
            profs["oracle: A as 👍"] = liked
            for label, pr in profs.items():
                s = pr.score(X[crows], meta)
                rows[label].append(E.task_metrics(E.rank_ids(ids, s) + st.missing, B))
            knn = np.asarray((X[crows] @ X[a_rows].T).max(axis=1).todense()).ravel()
            rows["oracle: max cosine to A"].append(E.task_metrics(E.rank_ids(ids, knn) + st.missing, B))
        for label, ms in rows.items():
            print_means(label, ms)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_argument(ap)
    ap.add_argument("--feedback", action="store_true", help="also run the feedback simulation with lr-hardneg")
    ap.add_argument("--round", type=int, choices=(3, 4, 5, 6, 7), default=None,
                    help="run only the third-, fourth-, fifth- or seventh-pass variants or the "
                         "sixth-pass oracle diagnostic (default: passes 3-5)")
    args = ap.parse_args(argv)
    inputs = dev_inputs(args.data, "ranker research")
    if inputs is None:
        return 0
    tasks_file, files = inputs
    t0 = time.time()
    corpus = E.get_corpus([str(f) for f in files], log=print)
    res = Research(corpus, E.load_tasks(str(tasks_file)))
    if args.round == 6:
        res.oracle_split()
        print(f"wall {time.time() - t0:.0f}s")
        return 0
    res.evaluate("production", res.production)
    if args.round == 7:
        for w in (0.01, 0.02, 0.04, 0.08):
            res.evaluate(f"code {w}", res.code(w))
        res.evaluate("title-field only", res.title_scores)
        for w in (0.1, 0.2, 0.3, 0.5):
            res.evaluate(f"title-field {w}", res.title_field(w))
        print(f"wall {time.time() - t0:.0f}s")
        return 0
    if args.round in (None, 5):
        for a in (0.5, 0.7, 1.3):
            res.evaluate(f"pivot {a}", res.pivot(a))
        for kind, ws in (("abstract-length", (0.02, 0.04)), ("short-title", (0.02, 0.04)), ("percent", (0.01, 0.02))):
            for w in ws:
                res.evaluate(f"{kind} {w}", res.style(kind, w))
        res.evaluate("char", res.char_scores)
        for w in (0.3, 0.5, 1.0):
            res.evaluate(f"word+char {w}", res.word_char(w))
    if args.round == 5:
        print(f"wall {time.time() - t0:.0f}s")
        return 0
    if args.round in (None, 4):
        for agg, ws in (("max", (0.01, 0.04)), ("sum", (0.01, 0.02))):
            for w in ws:
                res.evaluate(f"prolific {agg} {w}", res.prolific(w, agg))
        for w in (0.02, 0.05, 0.08, 0.12):
            res.evaluate(f"coauthor2 {w}", res.coauthor2(w))
        for w in (0.02, 0.05, 0.1):
            res.evaluate(f"names {w}", res.names(w))
        for a in (0.3, 1.0):
            res.evaluate(f"smooth {a}", res.smooth(a))
        for w in (0.05, 0.1):
            res.evaluate(f"lr+coauthor2 {w}", res.lr_coauthor2(w))
    if args.round == 4:
        print(f"wall {time.time() - t0:.0f}s")
        return 0
    for w, i in [(0.0, 0.02), (0.0, 0.05), (0.04, 0.0), (0.08, 0.0)]:
        res.evaluate(f"hf-prior {w}/{i}", res.hf_prior(w, i))
    for w in (0.01, 0.02, 0.04, 0.08):
        res.evaluate(f"id-age {w}", res.id_age(w))
    for mf in (50000, 100000, None):
        res.evaluate(f"vocab {mf}", res.vocab(mf))
    res.evaluate("cand-background", res.vocab(20000, background="candidates"))
    for lam in (0.9, 0.7):
        res.evaluate(f"mmr {lam}", res.mmr(lam))
    res.evaluate("nb-hardneg", res.nb_hardneg())
    for n_neg, w in [(200, 0.3), (1000, 0.15), (1000, 0.3), (1000, 0.5), (3000, 0.3)]:
        res.evaluate(f"lr-hardneg {n_neg} {w}", res.lr_hardneg(n_neg, w))
    if args.feedback:
        with_fb = sum(res.lr_hardneg_feedback_hits(t, st, True) for t, st in res.setups)
        without = sum(res.lr_hardneg_feedback_hits(t, st, False) for t, st in res.setups)
        print(f"lr-hardneg 1000 0.3 feedback simulation: hits with feedback {with_fb}, without {without}")
    print(f"wall {time.time() - t0:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
