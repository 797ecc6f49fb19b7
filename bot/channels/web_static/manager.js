// The manager's page: KPI tiles against targets, four ECharts charts, every table
// with a CSV export. Data from /app/manager/data (manager role only).
"use strict";
(() => {
  const { el, token } = Copilot;
  const $ = (id) => document.getElementById(id);
  const charts = {};

  function headers() { return { Authorization: `Bearer ${token.get()}` }; }

  function show(signedIn) {
    $("signin").hidden = signedIn; $("app").hidden = !signedIn;
    $("signout").hidden = !signedIn; $("period").hidden = !signedIn;
  }

  function fail(message) {
    show(false);
    $("signin-error").textContent = message; $("signin-error").hidden = false;
  }

  const percent = (v) => (v == null ? "—" : `${Math.round(v * 100)}%`);
  // How each KPI reads: shares as %, LTV in tickets, ROI as 1:x, NPS as a whole number.
  const KPI_TEXT = {
    high_net_worth: percent, activation: percent, nps: (v) => String(Math.round(v)),
    ltv: (v) => `${v.toFixed(1)}倍`, benefits_roi: (v) => `1:${v.toFixed(1)}`,
  };
  function cell(key, value) {
    if (value == null) return "—";
    if (KPI_TEXT[key]) return KPI_TEXT[key](value);
    if (/(_sla|_rate|share)$/.test(key)) return percent(value);
    return String(value);
  }

  function renderKpis(table) {
    const all = table.rows[table.rows.length - 1];
    const tiles = table.columns.filter((c) => all && `${c.key}_met` in all);
    $("kpis").replaceChildren(...tiles.map((c) => {
      const met = all[`${c.key}_met`];
      const cut = c.label.lastIndexOf("（目标");
      const title = cut >= 0 ? c.label.slice(0, cut) : c.label;
      const target = cut >= 0 ? c.label.slice(cut + 1, -1) : "";
      return el("div", { class: `tile ${met === "是" ? "met" : met === "否" ? "missed" : ""}`, "data-kpi": c.key },
        el("div", { class: "label" }, title),
        el("div", { class: "value" }, all[c.key] == null ? "无数据" : cell(c.key, all[c.key])),
        el("div", { class: "target" }, `${target} · ${all.store}`));
    }));
  }

  function renderTable(table) {
    const download = el("button", { type: "button", "data-export": table.id }, "导出 CSV");
    download.addEventListener("click", () => exportCsv(table.id));
    const head = el("tr", {}, table.columns.map((c) => el("th", {}, c.label)));
    const rows = table.rows.length
      ? table.rows.map((r) => el("tr", {}, table.columns.map((c) => el("td", {}, cell(c.key, r[c.key])))))
      : [el("tr", {}, el("td", { class: "empty", colspan: String(table.columns.length) }, "暂无数据"))];
    return el("section", { class: "table-card", id: `table-${table.id}` },
      el("header", {}, el("h2", {}, table.title), download),
      el("table", { class: "data" }, el("thead", {}, head), el("tbody", {}, rows)));
  }

  function chart(id, option) {
    if (typeof echarts === "undefined") return;
    charts[id] = charts[id] || echarts.init($(id));
    charts[id].setOption(option, true);
  }

  function weeklySeries(table, groupKey, valueKey, labelOf) {
    const weeks = [...new Set(table.rows.map((r) => r.week))].sort();
    const groups = [...new Set(table.rows.map((r) => r[groupKey]))];
    const series = groups.map((g) => ({
      name: labelOf(g), type: "line", connectNulls: true,
      data: weeks.map((w) => { const row = table.rows.find((r) => r.week === w && r[groupKey] === g); return row ? row[valueKey] : null; }),
    }));
    return { weeks, series };
  }

  function renderCharts(byId) {
    const stores = byId.followups_by_store.rows.filter((r) => r.store);
    const names = stores.map((r) => r.store);
    chart("chart-followups", {
      tooltip: { trigger: "axis" }, legend: { top: 0 }, grid: { left: 40, right: 10, top: 30, bottom: 40 },
      xAxis: { type: "category", data: names, axisLabel: { interval: 0, rotate: names.length > 4 ? 20 : 0 } },
      yAxis: { type: "value", minInterval: 1 },
      series: [
        { name: "按时完成", type: "bar", stack: "t", data: stores.map((r) => r.on_time), color: "#3f7d4f" },
        { name: "超时完成", type: "bar", stack: "t", data: stores.map((r) => r.done - r.on_time), color: "#c9a46a" },
        { name: "逾期未完成", type: "bar", stack: "t", data: stores.map((r) => r.overdue), color: "#a4433a" },
      ],
    });
    chart("chart-sla", {
      tooltip: { trigger: "axis", valueFormatter: (v) => (v == null ? "—" : `${v}%`) }, legend: { top: 0 },
      grid: { left: 40, right: 10, top: 30, bottom: 40 },
      xAxis: { type: "category", data: names, axisLabel: { interval: 0, rotate: names.length > 4 ? 20 : 0 } },
      yAxis: { type: "value", max: 100, axisLabel: { formatter: "{value}%" } },
      series: [
        { name: "1小时内首次联系", type: "bar", data: stores.map((r) => (r.respond_sla == null ? null : Math.round(r.respond_sla * 100))), color: "#9a7b4f",
          markLine: { symbol: "none", label: { show: false }, data: [{ yAxis: 100 }], lineStyle: { type: "dashed" } } },
        { name: "2小时内给方案", type: "bar", data: stores.map((r) => (r.resolve_sla == null ? null : Math.round(r.resolve_sla * 100))), color: "#5b7c99" },
      ],
    });
    const rp = weeklySeries(byId.roleplay_scores, "advisor_id", "average",
      (id) => (byId.roleplay_scores.rows.find((r) => r.advisor_id === id) || {}).name || id);
    chart("chart-roleplay", {
      tooltip: { trigger: "axis" }, legend: { top: 0, type: "scroll" }, grid: { left: 40, right: 10, top: 30, bottom: 30 },
      xAxis: { type: "category", data: rp.weeks }, yAxis: { type: "value", min: 0, max: 100 }, series: rp.series,
    });
    const en = weeklySeries(byId.cards_enriched, "store", "observations", (s) => s);
    chart("chart-enriched", {
      tooltip: { trigger: "axis" }, legend: { top: 0, type: "scroll" }, grid: { left: 40, right: 10, top: 30, bottom: 30 },
      xAxis: { type: "category", data: en.weeks }, yAxis: { type: "value", minInterval: 1 },
      series: en.series.map((s) => ({ ...s, type: "bar", stack: "all" })),
    });
  }

  async function exportCsv(id) {
    const answer = await fetch(`/app/manager/export/${id}.csv?days=${$("days").value}`, { headers: headers() });
    if (!answer.ok) { fail((await answer.json()).error || `导出失败（${answer.status}）`); return; }
    const url = URL.createObjectURL(await answer.blob());
    const link = el("a", { href: url, download: `${id}.csv` });
    document.body.append(link); link.click(); link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  }

  async function load() {
    const answer = await fetch(`/app/manager/data?days=${$("days").value}`, { headers: headers() });
    if (answer.status === 401) { token.clear(); fail("令牌无效或已过期，请重新登录。"); Copilot.weComSignIn(); return; }
    if (!answer.ok) { fail((await answer.json().catch(() => ({}))).error || `服务暂时不可用（${answer.status}）`); return; }
    const data = await answer.json();
    show(true);
    $("who").textContent = `${data.manager.name} · ${data.manager.store}`;
    const byId = Object.fromEntries(data.tables.map((t) => [t.id, t]));
    renderKpis(byId.membership_kpis);
    renderCharts(byId);
    $("tables").replaceChildren(...data.tables.map(renderTable));
    $("generated").textContent = `数据生成于 ${data.generated_at.replace("T", " ").slice(0, 16)}（近${data.days}天）`;
    document.body.dataset.loaded = "true";
  }

  $("signin-form").addEventListener("submit", (event) => {
    event.preventDefault(); $("signin-error").hidden = true; token.set($("token").value.trim()); load();
  });
  $("days").addEventListener("change", load);
  $("signout").addEventListener("click", () => { token.clear(); show(false); });
  window.addEventListener("resize", () => Object.values(charts).forEach((c) => c.resize()));

  (async () => {
    const error = Copilot.takeSignIn();
    if (token.get()) { load(); return; }
    show(false);
    if (error) fail(error); else if (!(await Copilot.weComSignIn())) $("signin").hidden = false;
  })();
})();
