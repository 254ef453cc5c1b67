// The fedmarket dashboard: reads the ledger API and draws one task's rounds, payouts and audit.
(() => {
  "use strict";
  const { PALETTE, barChart, lineChart, legend } = window.FedCharts;
  const $ = (id) => document.getElementById(id);
  const PAGE = 500;

  async function getJSON(path) {
    const response = await fetch(path, { headers: { Accept: "application/json" } });
    if (!response.ok) {
      let detail = response.statusText;
      try { detail = (await response.json()).detail || detail; } catch (e) { /* not JSON */ }
      throw new Error(`${path}: ${response.status} ${detail}`);
    }
    return response.json();
  }

  // uint256 decimal strings (18 decimals) to a float number of whole tokens, for display only.
  function tokens(units) {
    if (units === null || units === undefined) return NaN;
    const big = BigInt(units);
    return Number(big / 10n ** 12n) / 1e6;
  }

  function fmtTokens(units) {
    const v = tokens(units);
    return Number.isFinite(v) ? v.toLocaleString("en-US", { maximumFractionDigits: 2 }) : "–";
  }

  function short(address) {
    return `${address.slice(0, 6)}…${address.slice(-4)}`;
  }

  function showMessage(text) {
    const el = $("message");
    el.textContent = text;
    el.hidden = !text;
  }

  function cell(text, className) {
    const td = document.createElement("td");
    td.textContent = text;
    if (className) td.className = className;
    return td;
  }

  function badge(status) {
    const span = document.createElement("span");
    span.className = `badge ${status}`;
    span.textContent = status;
    return span;
  }

  function colorsFor(addresses) {
    const map = new Map();
    addresses.forEach((a, i) => map.set(a, PALETTE[i % PALETTE.length]));
    return map;
  }

  function renderSummary(task) {
    const items = [
      ["Status", task.status],
      ["Rounds settled", `${task.rounds_settled} / ${task.rounds}`],
      ["Participants", String(task.participants)],
      ["Budget per round", `${fmtTokens(task.round_budget)} FMT`],
      ["Allocated", `${fmtTokens(task.allocated)} FMT`],
      ["Claimed", `${fmtTokens(task.claimed)} FMT`],
    ];
    $("summary").replaceChildren(...items.map(([label, value]) => {
      const card = document.createElement("div");
      card.className = "card";
      const l = document.createElement("div");
      l.className = "card-label";
      l.textContent = label;
      const v = document.createElement("div");
      v.className = "card-value";
      v.textContent = value;
      card.append(l, v);
      return card;
    }));
  }

  function renderContributions(contrib, colors) {
    const rounds = contrib.items.map((r) => `round ${r.round}`);
    const series = contrib.participants.map((address) => ({
      name: address,
      label: short(address),
      color: colors.get(address),
      missing: "rejected",
      values: contrib.items.map((r) => {
        const entry = r.entries.find((e) => e.participant === address);
        return entry && entry.value !== null ? entry.value : NaN;
      }),
    }));
    barChart($("contributions-chart"), { groups: rounds, series, yLabel: "value",
                                         title: "contributions per participant per round" });
    legend($("contributions-legend"), series);

    const fairness = [["jain", "Jain's index"], ["gini", "Gini"], ["pearson", "Pearson (contribution, reward)"]]
      .map(([key, label], i) => ({
        name: key, label, color: ["#0f766e", "#b45309", "#6d28d9"][i],
        values: contrib.items.map((r) => (r.fairness[key] === null ? NaN : r.fairness[key])),
      }));
    lineChart($("fairness-chart"), { x: rounds, series: fairness, yMin: -1, yMax: 1,
                                     yLabel: "metric", title: "fairness per round" });
    legend($("fairness-legend"), fairness);

    lineChart($("accuracy-chart"), {
      x: rounds, yMin: 0, yMax: 1, yLabel: "accuracy", title: "round accuracy",
      series: [{ name: "accuracy", label: "accuracy", color: "#2563eb",
                 values: contrib.items.map((r) => (r.accuracy === null ? NaN : r.accuracy)) }],
      format: (v) => `${Math.round(v * 100)}%`,
    });
  }

  function renderPayouts(payouts, colors) {
    const final = new Set(payouts.final_rounds);
    const rounds = payouts.rounds.map((r) => (final.has(r) ? `round ${r}` : `round ${r} (not final)`));
    const series = payouts.items.map((p) => ({
      name: p.address, label: short(p.address), color: colors.get(p.address),
      values: p.cumulative.map(tokens),
    }));
    lineChart($("payouts-chart"), { x: rounds, series, yLabel: "FMT",
                                    title: "cumulative payouts per participant" });
    legend($("payouts-legend"), series);
  }

  function renderParticipants(participants, contrib, colors) {
    const body = $("participants-table").querySelector("tbody");
    body.replaceChildren(...participants.items.map((p) => {
      const total = contrib.items.reduce((sum, r) => {
        const e = r.entries.find((x) => x.participant === p.address);
        return sum + (e && e.value !== null ? e.value : 0);
      }, 0);
      const row = document.createElement("tr");
      const swatch = document.createElement("td");
      const dot = document.createElement("i");
      dot.className = "swatch";
      dot.style.background = colors.get(p.address);
      swatch.append(dot);
      row.append(swatch, cell(p.address, "mono address"), cell(fmtTokens(p.stake), "num"),
                 cell(total.toFixed(4), "num"), cell(fmtTokens(p.entitled), "num"),
                 cell(fmtTokens(p.claimed), "num"));
      return row;
    }));
  }

  function renderAudit(audit) {
    const overall = $("audit-overall");
    overall.className = `badge ${audit.ok ? "ok" : "mismatch"}`;
    overall.textContent = audit.ok ? "OK" : `${audit.mismatches.length} finding(s)`;
    overall.title = `${audit.level} audit`;
    const ledger = audit.mismatches.filter((m) => m.round === null);
    const note = $("audit-note");
    const level = `${audit.level} audit: ${audit.other_level}`;
    note.textContent = [level, ...ledger.map((m) => `${m.field}: ${m.reason}`)].join(" · ");
    note.dataset.level = audit.level;
    note.hidden = false;
    const body = $("audit-table").querySelector("tbody");
    body.replaceChildren(...audit.rounds.map((r) => {
      const row = document.createElement("tr");
      row.dataset.round = String(r.round);
      const status = document.createElement("td");
      status.append(badge(r.status));
      const inherited = r.inherited || [];
      const findings = r.mismatches.length
        ? r.mismatches.slice(0, 3).map((m) => `${m.field}: ${m.reason}`).join("; ")
        : inherited.length
          ? `${inherited.length} difference(s) inherited from an earlier round's state`
          : (r.noise.length ? `${r.noise.length} float-noise difference(s)` : "–");
      row.append(cell(String(r.round)), status,
                 cell(r.accuracy === null ? "–" : `${(r.accuracy * 100).toFixed(1)}%`, "num"),
                 cell(fmtTokens(r.total_paid), "num"), cell(findings, "findings"));
      return row;
    }));
  }

  async function loadAudit(taskId) {
    const overall = $("audit-overall");
    overall.className = "badge pending";
    overall.textContent = "auditing…";
    try {
      renderAudit(await getJSON(`/api/tasks/${taskId}/audit`));
    } catch (err) {
      overall.className = "badge unavailable";
      overall.textContent = "unavailable";
      $("audit-table").querySelector("tbody").replaceChildren();
      showMessage(String(err.message || err));
    }
  }

  async function loadTask(taskId) {
    showMessage("");
    const [task, contrib, payouts, participants] = await Promise.all([
      getJSON(`/api/tasks/${taskId}`),
      getJSON(`/api/tasks/${taskId}/contributions?limit=${PAGE}`),
      getJSON(`/api/tasks/${taskId}/payouts?limit=${PAGE}`),
      getJSON(`/api/tasks/${taskId}/participants?limit=${PAGE}`),
    ]);
    const colors = colorsFor(contrib.participants);
    renderSummary(task);
    renderContributions(contrib, colors);
    renderPayouts(payouts, colors);
    renderParticipants(participants, contrib, colors);
    document.body.dataset.task = String(taskId);
    await loadAudit(taskId);
    document.body.dataset.ready = "true";
  }

  async function main() {
    try {
      const health = await getJSON("/api/health");
      $("chain").textContent = `chain ${health.chain_id} · block ${health.indexed_block ?? "–"}` +
        ` · ${health.status}`;
      const tasks = await getJSON(`/api/tasks?limit=${PAGE}`);
      const select = $("task-select");
      select.replaceChildren(...tasks.items.map((t) => {
        const option = document.createElement("option");
        option.value = String(t.task_id);
        option.textContent = `#${t.task_id} · ${t.status} · ${t.rounds_settled}/${t.rounds} rounds`;
        return option;
      }));
      if (!tasks.items.length) {
        showMessage("No tasks on this marketplace yet.");
        document.body.dataset.ready = "true";
        return;
      }
      const wanted = new URLSearchParams(location.search).get("task");
      const chosen = tasks.items.some((t) => String(t.task_id) === wanted)
        ? wanted : String(tasks.items[tasks.items.length - 1].task_id);
      select.value = chosen;
      select.addEventListener("change", () => {
        history.replaceState(null, "", `?task=${select.value}`);
        loadTask(select.value).catch((err) => showMessage(String(err.message || err)));
      });
      await loadTask(chosen);
    } catch (err) {
      showMessage(String(err.message || err));
      document.body.dataset.ready = "error";
    }
  }

  main();
})();
