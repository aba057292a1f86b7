"""arXiv API responses (recorded by arxiv.py) and the polite, paging client."""
import pytest

from feeds.arxiv_api import ArxivAPIClient, ArxivAPIError, parse_response
from feeds.http import FetchResult
from tests.conftest import api_exchange, fixture_path


def test_error_feed_http_400_is_a_clear_error():
    ex = api_exchange("id_abc_s0_m100_b79c8dcf6bc3.json")
    assert ex["status_code"] == 400
    with pytest.raises(ArxivAPIError, match="incorrect id format for abc"):
        parse_response(ex["body"].encode(), ex["status_code"])


def test_old_style_id_and_primary_category():
    ex = api_exchange("id_astro-ph_0601001_s0_m100_3150dca9dc76.json")
    page = parse_response(ex["body"].encode(), 200)
    (p,) = page.result.papers
    assert p.arxiv_id == "astro-ph/0601001" and p.version == 1
    assert p.primary_category == "astro-ph" and p.categories[0] == "astro-ph"
    assert p.authors and p.abstract and p.pdf_url.startswith("https://arxiv.org/pdf/")


def test_versioned_lookup_and_empty_result():
    p = parse_response(api_exchange("id_2104.12255v1_s0_m100_6ae69987ffe1.json")["body"].encode()).result.papers
    assert [(x.arxiv_id, x.version) for x in p] == [("2104.12255", 1)]
    empty = parse_response(api_exchange("id_0000.0000_s0_m100_8b51d9633a68.json")["body"].encode())
    assert empty.result.papers == [] and empty.total_results == 0


def test_legacy_2016_format():
    page = parse_response(fixture_path("arxiv_api", "search_au_del_maestro.xml").read_bytes())
    assert page.total_results == 31 and len(page.result.papers) == 10
    assert all(p.title and p.authors for p in page.result.papers)


def test_author_names_have_their_inner_whitespace_collapsed():
    """An API ``<author><name>`` with a no-break space or a line break inside is stored with one
    plain space (as the RSS parser does), so the store's full-text author index sees the words."""
    body = api_exchange("id_2104.12255v1_s0_m100_6ae69987ffe1.json")["body"]
    (p,) = parse_response(body.encode()).result.papers
    name = p.authors[0]
    first, rest = name.split(" ", 1)
    wrapped = body.replace(f"<name>{name}</name>", f"<name>{first}\u00a0\n    {rest}</name>", 1)
    assert wrapped != body
    (q,) = parse_response(wrapped.encode()).result.papers
    assert q.authors == p.authors


class RecordedFetcher:
    """Serves recorded exchanges by `start`, records call times on a fake clock."""

    def __init__(self, clock):
        self.clock = clock
        self.calls = []
        self.pages = {0: api_exchange("q_testing_s0_m10_bc5a6c384fe9.json"),
                      10: api_exchange("q_testing_s10_m10_34e56e15aaac.json")}

    def get(self, url, params=None, accept_error_body=False, **kw):
        self.calls.append((self.clock.now, dict(params)))
        ex = self.pages[params["start"]]
        return FetchResult(url, ex["status_code"], ex["body"].encode())


class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now

    def sleep(self, s):
        assert s > 0
        self.now += s


def test_search_pages_with_start_and_waits_3s_between_calls():
    clock = FakeClock()
    fetcher = RecordedFetcher(clock)
    client = ArxivAPIClient(fetcher, clock=clock, sleep=clock.sleep)
    papers = list(client.search("all:testing", max_results=20, page_size=10))
    assert len(papers) == 20
    assert [c[1]["start"] for c in fetcher.calls] == [0, 10]
    assert all(c[1]["max_results"] == 10 for c in fetcher.calls)
    assert fetcher.calls[1][0] - fetcher.calls[0][0] >= 3.0
    assert papers[0].arxiv_id == "2202.12139" and papers[10].arxiv_id == "2403.16981"


def test_by_ids_raises_on_error_feed():
    class ErrFetcher:
        def get(self, url, params=None, accept_error_body=False, **kw):
            ex = api_exchange("id_abc_s0_m100_b79c8dcf6bc3.json")
            return FetchResult(url, ex["status_code"], ex["body"].encode())
    clock = FakeClock()
    with pytest.raises(ArxivAPIError):
        ArxivAPIClient(ErrFetcher(), clock=clock, sleep=clock.sleep).by_ids(["abc"])


def test_lookup_says_when_its_answer_is_incomplete():
    """An id look-up answered cut short (a truncated body: the last entry is dropped) or with
    fewer entries than its totalResults counts is not complete: a paper missing from it may exist."""
    body = api_exchange("q_testing_s0_m10_bc5a6c384fe9.json")["body"]

    def client(text):
        class OneAnswer:
            def get(self, url, params=None, accept_error_body=False, **kw):
                return FetchResult(url, 200, text.encode())
        clock = FakeClock()
        return ArxivAPIClient(OneAnswer(), clock=clock, sleep=clock.sleep)

    ids = [f"2501.{i:05d}" for i in range(10)]  # 10 ids asked; the recording holds 10 entries
    whole = client(body).lookup(ids)
    assert whole.complete and len(whole.papers) == 10
    cut = client(body[:body.rindex("</entry>")]).lookup(ids)
    assert not cut.complete and len(cut.papers) == 9
    one_less = body[:body.index("<entry>")] + body[body.index("</entry>") + len("</entry>"):]
    short = client(one_less).lookup(ids)  # totalResults is far more than the 9 entries
    assert not short.complete and len(short.papers) == 9
    with pytest.raises(ValueError, match="at most 100 ids"):
        client(body).lookup([f"2501.{i:05d}" for i in range(101)])
