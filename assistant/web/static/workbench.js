/*
 * The editors' workbench (/console/workbench): ask the knowledge base a question and see the
 * ranking with its scores and matched passages, the calibrated confidence and the decision; move
 * the thresholds and see what would change (the decision, the regression tests that flip); save
 * the question as a regression test (data/kb_tests.yml). Built with console.js's helpers
 * (window.KestrelConsole); every piece of data reaches the page as text, never as HTML.
 */
(function () {
  "use strict";

  const K = window.KestrelConsole;
  if (!K) return;
  const { el, add, button, labelled, form, section, api, act, say, flash, can, score, truncate } = K;
  const MAX_QUESTION = 500;
  const DECISIONS = {
    answer: "Answer",
    clarify: "Offer a choice",
    decline: "Decline"
  };

  const KINDS = { question: "example question", title: "title", body: "text" }; // what the passage is

  function decisionText(data, decision) {
    const articles = data.articles || [];
    const best = articles[0];
    if (decision === "answer" && best) return "Answer with “" + (best.title || best.id) + "” (" + best.id + ").";
    if (decision === "clarify") {
      const offered = (data.offered || []).map((id) => {
        const found = articles.find((a) => a.id === id);
        return found ? "“" + (found.title || id) + "”" : id;
      });
      return "Offer a choice: " + offered.join(", ") + ".";
    }
    return "Decline: say it does not know and offer a person.";
  }

  function percent(value) { return typeof value === "number" ? Math.round(value * 100) + "%" : "–"; }

  function slider(id, text) {
    const input = el("input", { id: id, type: "range", min: "0", max: "1", step: "0.01", value: "0" });
    const shown = el("output", { id: id + "-value", htmlFor: id }, "");
    const show = () => { shown.textContent = Number(input.value).toFixed(2); };
    input.addEventListener("input", show);
    return {
      node: el("div", "field wb-slider", el("label", { htmlFor: id }, text), input, shown),
      input: input,
      get value() { return Number(input.value); },
      set(value) { input.value = String(value); show(); }
    };
  }

  function rankingTable(articles) {
    const head = el("tr", null, ...["#", "Article", "Score", "Dense", "Lexical", "Head", "Matched passage"]
      .map((c) => el("th", { scope: "col" }, c)));
    const rows = articles.map((a, i) => el("tr", { "data-id": a.id },
      el("td", null, String(i + 1)),
      el("td", null, el("strong", null, a.title || a.id), el("br"), el("code", null, a.id)),
      el("td", "num", score(a.score)), el("td", "num", score(a.dense)), el("td", "num", score(a.lexical)),
      el("td", "num", score(a.head)),
      el("td", "wb-passage", a.passage_kind ? el("span", "wb-kind", KINDS[a.passage_kind] || a.passage_kind) : null,
        a.passage_kind ? " " : null, truncate(a.passage, 320))));
    if (!rows.length) rows.push(el("tr", null, el("td", { colSpan: 7, className: "empty" }, "No article matched.")));
    return el("div", "table-wrap", el("table", { id: "wb-ranking", className: "results wb-ranking" },
      el("caption", null, "Ranking"), el("thead", null, head), el("tbody", null, ...rows)));
  }

  function flipItem(flip) {
    const how = flip.was === "passed" ? "passes now, would fail" : "fails now, would pass";
    const decisions = flip.decision_was && flip.decision_now ? " (" + flip.decision_was + " → " + flip.decision_now + ")" : "";
    return el("li", { className: "wb-flip wb-flip-" + flip.now, "data-line": flip.line },
      el("span", "wb-line", "line " + flip.line + " "), "“" + flip.question + "”",
      flip.expect ? " expects " + flip.expect : "", ": " + how + decisions);
  }

  function testRow(test, onPick) {
    const result = test.result;
    const state = !result ? "not run" : result.passed ? "passed" : "failed";
    const pick = button(test.question, { className: "link wb-pick", title: "Ask this in the playground" });
    pick.addEventListener("click", () => onPick(test.question));
    const expect = test.expect + (test.allow ? " (or among the choices)" : "");
    return el("tr", { className: "wb-test wb-" + state.replace(" ", "-"), "data-line": test.line },
      el("td", "num", String(test.line)), el("td", null, pick), el("td", null, expect),
      el("td", null, state), el("td", null, result && !result.passed ? result.message || "" : ""));
  }

  function workbenchPage() {
    document.title = "Workbench · Agent console";
    const nav = document.getElementById("nav-workbench");
    if (nav) nav.setAttribute("aria-current", "page");

    // ------------------------------------------------------------ the question
    const question = el("input", { id: "wb-question", type: "search", maxLength: MAX_QUESTION, autocomplete: "off",
      placeholder: "Ask as a customer would", "aria-describedby": "wb-question-hint" });
    const ask = button("Ask", { id: "wb-ask", className: "primary", type: "submit" });
    const askForm = form("wb-form", () => run(true),
      el("div", "field inline", el("label", { htmlFor: "wb-question" }, "Question"), question, ask),
      el("p", { id: "wb-question-hint", className: "hint" }, "Enter asks. At most " + MAX_QUESTION + " characters."));

    // ------------------------------------------------------------ the answer
    const decision = el("p", { id: "wb-decision", className: "wb-decision" });
    const facts = el("dl", { id: "wb-facts", className: "facts-list" });
    const ranking = el("div", { id: "wb-ranking-box" });
    const result = section("What the knowledge base does", "panel wb-result", decision, facts, ranking);
    result.setAttribute("aria-live", "polite");
    result.hidden = true;

    // ------------------------------------------------------------ the thresholds
    const answerAt = slider("wb-answer-at", "Answer when confidence is at least (answer_at)");
    const clarifyAt = slider("wb-clarify-at", "Else offer a choice when coverage is at least (clarify_at)");
    const reset = button("Back to the live thresholds", { id: "wb-reset", className: "secondary" });
    const whatIf = el("p", { id: "wb-what-if", className: "wb-what-if" });
    const reach = el("p", { id: "wb-reach", className: "muted" });
    const suite = el("p", { id: "wb-suite" });
    const flips = el("ul", { id: "wb-flips", className: "wb-flips" });
    const thresholds = section("What if the thresholds moved", "panel wb-thresholds",
      answerAt.node, clarifyAt.node, reset, whatIf, reach, suite, flips);
    thresholds.setAttribute("aria-live", "polite");
    thresholds.hidden = true;

    // ------------------------------------------------------------ saving it as a test
    const expect = el("select", { id: "wb-expect" });
    const allow = el("input", { id: "wb-allow", type: "checkbox" });
    const save = button("Save as test", { id: "wb-save", className: "primary", type: "submit" });
    const saveForm = form("wb-save-form", saveTest,
      labelled("The answer must be", expect),
      el("div", "field wb-check", allow, el("label", { htmlFor: "wb-allow" }, "also pass when it is offered among the choices")),
      save);
    const saving = can("curate") ? section("Save as a regression test", "panel wb-save", saveForm) : null;
    if (saving) saving.hidden = true;

    // ------------------------------------------------------------ the regression tests
    const runTests = button("Run the tests", { id: "wb-run", className: "secondary" });
    const testsSummary = el("p", { id: "wb-tests-summary" });
    const testsProblems = el("ul", { id: "wb-problems", className: "wb-problems" });
    const testRows = el("tbody");
    const testsTable = el("div", "table-wrap", el("table", { id: "wb-tests", className: "results" },
      el("caption", "visually-hidden", "Regression tests"),
      el("thead", null, el("tr", null, ...["Line", "Question", "Expects", "Result", "What happened"]
        .map((c) => el("th", { scope: "col" }, c)))), testRows));
    const tests = section("Regression tests", "panel wb-tests", runTests, testsSummary, testsProblems, testsTable);

    const app = document.getElementById("app");
    add(app, el("h1", null, "Workbench"),
      el("p", "muted", "Type a question as a customer would: see how the articles rank, how sure the knowledge base is, " +
        "what it would do, and what moving the thresholds would change."),
      askForm, result, thresholds, saving, tests);

    let live = null; // the live thresholds, from the first answer
    let asked = "";
    let last = null;
    let sequence = 0;
    let timer = null;

    async function run(fresh) {
      const text = question.value.trim();
      if (!text) { question.focus(); return; }
      if (text.length > MAX_QUESTION) { say("A question can be at most " + MAX_QUESTION + " characters.", "error"); return; }
      const body = { question: text };
      if (live) { body.answer_at = answerAt.value; body.clarify_at = clarifyAt.value; }
      const mine = ++sequence;
      const data = fresh ? await act(ask, () => api("/api/kb/playground", body))
        : await api("/api/kb/playground", body).catch((err) => { K.sayError(err); return null; });
      if (!data || mine !== sequence) return; // a newer question or threshold is on its way
      if (!live) {
        live = data.thresholds;
        answerAt.set(live.answer_at);
        clarifyAt.set(live.clarify_at);
      }
      asked = text;
      last = data;
      show(data, fresh);
    }

    function show(data, fresh) {
      result.hidden = false;
      thresholds.hidden = false;
      const th = data.thresholds || {};
      decision.textContent = decisionText(data, data.decision);
      decision.className = "wb-decision wb-" + data.decision;
      facts.textContent = "";
      const pair = (label, value) => el("div", null, el("dt", null, label), el("dd", null, value));
      add(facts,
        pair("Confidence", percent(data.confidence) + " that the best article is right (answers at " + percent(th.answer_at) + ")"),
        pair("Coverage", percent(data.coverage) + " that the right one is among the " + (th.clarify_options || 3) +
          " offered (offers them at " + percent(th.clarify_at) + ")"),
        data.read_as && data.read_as !== data.question ? pair("Read as", data.read_as) : null);
      ranking.textContent = "";
      ranking.appendChild(rankingTable(data.articles || []));
      showWhatIf(data);
      if (saving && fresh) fillExpect(data);
      if (saving) saving.hidden = false;
    }

    function showWhatIf(data) {
      const w = data.what_if || {};
      const now = w.decision_at_given_thresholds;
      const moved = live && (w.answer_at !== live.answer_at || w.clarify_at !== live.clarify_at);
      whatIf.textContent = !moved ? "These are the live thresholds: move them to see what would change."
        : now === data.decision ? "At these thresholds: the same decision (" + DECISIONS[now].toLowerCase() + ")."
          : "At these thresholds: " + decisionText(data, now) + " (Now: " + DECISIONS[data.decision].toLowerCase() + ".)";
      whatIf.className = "wb-what-if" + (moved && now !== data.decision ? " is-changed" : "");
      reach.textContent = typeof w.answers_if_answer_at_at_most === "number"
        ? "It answers while answer_at is at most " + w.answers_if_answer_at_at_most.toFixed(2) +
          ", and offers a choice while clarify_at is at most " + w.clarifies_if_clarify_at_at_most.toFixed(2) + "."
        : "";
      const t = w.tests || {};
      flips.textContent = "";
      if (t.problems && t.problems.length) {
        suite.textContent = "The regression tests cannot be read: " + t.problems.join("; ");
        return;
      }
      if (!t.total) { suite.textContent = "No regression tests yet."; return; }
      suite.textContent = "Regression tests at these thresholds: " + t.passed + " of " + t.total + " pass" +
        (t.passed !== t.passed_at_current ? " (" + t.passed_at_current + " at the live ones)." : ".") +
        (t.flips && t.flips.length ? " These flip:" : " None flips.");
      add(flips, ...(t.flips || []).map(flipItem));
    }

    function fillExpect(data) {
      expect.textContent = "";
      const articles = data.articles || [];
      add(expect, ...articles.map((a) => el("option", { value: a.id }, a.title ? a.title + " (" + a.id + ")" : a.id)),
        el("option", { value: "decline" }, "decline: it must not answer"));
      expect.value = data.decision === "decline" || !articles.length ? "decline" : articles[0].id;
      allow.checked = false;
    }

    async function saveTest() {
      if (!last || !asked) return;
      const body = { question: asked, expect: expect.value };
      if (allow.checked && expect.value !== "decline") body.allow = "clarify";
      const saved = await act(save, () => api("/api/kb/tests", body));
      if (!saved) return;
      flash("Saved as a test on line " + saved.line + " of " + saved.path + ".");
      loadTests("/api/kb/tests");
    }

    function schedule() {
      if (!asked || !live) return;
      clearTimeout(timer);
      timer = setTimeout(() => { question.value = asked; run(false); }, 150);
    }
    answerAt.input.addEventListener("input", schedule);
    clarifyAt.input.addEventListener("input", schedule);
    reset.addEventListener("click", () => {
      if (!live) return;
      answerAt.set(live.answer_at);
      clarifyAt.set(live.clarify_at);
      schedule();
    });

    function pick(text) {
      question.value = text;
      question.focus();
      run(true);
    }

    async function loadTests(path, control) {
      const task = () => api(path, path.endsWith("/run") ? {} : undefined);
      const data = control ? await act(control, task) : await task().catch((err) => { K.sayError(err); return null; });
      if (!data) return;
      testsProblems.textContent = "";
      add(testsProblems, ...(data.problems || []).map((p) => el("li", "is-error", p)));
      const list = data.tests || [];
      testRows.textContent = "";
      add(testRows, ...list.map((t) => testRow(t, pick)));
      if (!list.length) testRows.appendChild(el("tr", null, el("td", { colSpan: 5, className: "empty" }, "No tests yet.")));
      const run = data.last_run;
      testsSummary.textContent = (data.path || "The tests file") + ": " + list.length + (list.length === 1 ? " test" : " tests") +
        (run ? "; last run: " + run.passed + " passed, " + run.failed + " failed." : "; not run since the console started.");
    }
    runTests.addEventListener("click", () => loadTests("/api/kb/tests/run", runTests));
    loadTests("/api/kb/tests");
    question.focus();
  }

  K.register("workbench", workbenchPage);
})();
