from assistant.kb.build import build_from_source
from assistant.kb.index import current_build
from assistant.kb.live import LiveKnowledgeBase
from assistant.kb.watch import ArticleWatcher


def test_watcher_rebuilds_on_edit_and_keeps_serving_on_breakage(article_dir, tmp_path, encoder):
    out = tmp_path / "index"
    build_from_source(article_dir, out, lambda: encoder)
    live = LiveKnowledgeBase(out, encoder, check_every=0)
    watcher = ArticleWatcher(article_dir, out, encoder)
    assert watcher.check() is False  # nothing changed

    path = article_dir / "exchange" / "exchange_rate.md"
    path.write_text(path.read_text().replace("1% markup at weekends", "2% markup at weekends"))
    assert watcher.check() is True
    article = live.get().index.articles["exchange_rate"]
    assert "2% markup at weekends" in article.summary

    good = current_build(out)
    (article_dir / "broken.md").write_text("---\nid: broken\n---\n")
    assert watcher.check() is False
    assert "broken.md" in str(watcher.last_error)
    assert current_build(out) == good
    assert "2% markup" in live.get().index.articles["exchange_rate"].summary


def test_watcher_hands_the_new_build_to_the_live_knowledge_base(article_dir, tmp_path, encoder):
    out = tmp_path / "index"
    build_from_source(article_dir, out, lambda: encoder)
    live = LiveKnowledgeBase(out, encoder, check_every=3600)  # would not look at the disk again
    watcher = ArticleWatcher(article_dir, out, encoder, live=live)
    path = article_dir / "cards" / "card_arrival.md"
    path.write_text(path.read_text().replace("3-5 working days", "2-4 working days"))
    assert watcher.check() is True
    assert "2-4 working days" in live.get().index.articles["card_arrival"].summary
    assert live.build_id == current_build(out).name
