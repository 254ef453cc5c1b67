// Small SVG charts for the fedmarket dashboard: grouped bars and lines, no external library.
(() => {
  "use strict";
  const SVG_NS = "http://www.w3.org/2000/svg";
  const PALETTE = ["#2563eb", "#dc2626", "#16a34a", "#d97706", "#7c3aed",
                   "#0891b2", "#db2777", "#65a30d", "#475569", "#ea580c"];

  function svgEl(name, attrs, text) {
    const el = document.createElementNS(SVG_NS, name);
    for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
    if (text !== undefined) el.textContent = text;
    return el;
  }

  // Round numbers for an axis from lo to hi (about `count` ticks).
  function niceTicks(lo, hi, count) {
    if (lo === hi) { lo -= 1; hi += 1; }
    const raw = (hi - lo) / Math.max(1, count);
    const mag = Math.pow(10, Math.floor(Math.log10(raw)));
    const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) || raw;
    const ticks = [];
    for (let t = Math.floor(lo / step) * step; t <= hi + step * 1e-9; t += step) {
      ticks.push(Math.abs(t) < step * 1e-9 ? 0 : t);
    }
    return ticks;
  }

  function defaultFormat(v) {
    const a = Math.abs(v);
    if (a >= 1000) return v.toLocaleString("en-US", { maximumFractionDigits: 0 });
    if (a >= 10) return v.toFixed(1);
    if (a >= 0.1 || a === 0) return v.toFixed(2);
    return v.toPrecision(2);
  }

  // Labels with as many decimals as the tick step needs ("0.05", "500", "1,500").
  function tickFormat(step) {
    let decimals = 0;
    while (decimals < 6 && Math.abs(step * 10 ** decimals - Math.round(step * 10 ** decimals)) > 1e-6) {
      decimals += 1;
    }
    return (v) => v.toLocaleString("en-US", { minimumFractionDigits: decimals,
                                              maximumFractionDigits: decimals });
  }

  // The frame shared by both charts: y scale, grid, y axis labels, x labels.
  function frame(container, opts, xLabels, values) {
    const width = opts.width || 560;
    const height = opts.height || 260;
    const m = { top: 16, right: 16, bottom: 36, left: 64 };
    const finite = values.filter((v) => Number.isFinite(v));
    let lo = opts.yMin !== undefined ? opts.yMin : Math.min(0, ...finite);
    let hi = opts.yMax !== undefined ? opts.yMax : Math.max(0, ...finite);
    if (!finite.length) { lo = 0; hi = 1; }
    const ticks = niceTicks(lo, hi, 5);
    lo = Math.min(lo, ticks[0]);
    hi = Math.max(hi, ticks[ticks.length - 1]);
    const plotW = width - m.left - m.right;
    const plotH = height - m.top - m.bottom;
    const y = (v) => m.top + plotH - ((v - lo) / (hi - lo || 1)) * plotH;
    const step = ticks.length > 1 ? ticks[1] - ticks[0] : 1;
    const fmt = opts.format || tickFormat(step);
    const svg = svgEl("svg", { viewBox: `0 0 ${width} ${height}`, class: "chart",
                               role: "img", "aria-label": opts.title || "chart" });
    for (const t of ticks) {
      svg.appendChild(svgEl("line", { x1: m.left, x2: width - m.right, y1: y(t), y2: y(t),
                                      class: t === 0 ? "axis zero" : "grid" }));
      svg.appendChild(svgEl("text", { x: m.left - 8, y: y(t) + 4, class: "tick",
                                      "text-anchor": "end" }, fmt(t)));
    }
    if (opts.yLabel) {
      svg.appendChild(svgEl("text", { x: 14, y: m.top + plotH / 2, class: "axis-label",
                                      transform: `rotate(-90 14 ${m.top + plotH / 2})`,
                                      "text-anchor": "middle" }, opts.yLabel));
    }
    container.replaceChildren(svg);
    const valueFmt = opts.format || defaultFormat;
    return { svg, m, plotW, plotH, y, fmt, valueFmt, width, height, xLabels };
  }

  // Grouped bars: one group per x label, one bar per series (every bar is drawn, even if 0).
  function barChart(container, opts) {
    const all = opts.series.flatMap((s) => s.values);
    const f = frame(container, opts, opts.groups, all);
    const groupW = f.plotW / Math.max(1, opts.groups.length);
    const barW = Math.min(28, (groupW * 0.8) / Math.max(1, opts.series.length));
    const zero = f.y(0);
    opts.groups.forEach((label, gi) => {
      const gx = f.m.left + gi * groupW + (groupW - barW * opts.series.length) / 2;
      opts.series.forEach((s, si) => {
        const v = s.values[gi];
        const ok = Number.isFinite(v);
        const top = ok ? Math.min(f.y(v), zero) : zero;
        const h = ok ? Math.max(Math.abs(f.y(v) - zero), 1) : 0;
        const bar = svgEl("rect", { x: gx + si * barW, y: top, width: Math.max(barW - 2, 1),
                                    height: h, fill: s.color, class: ok ? "bar" : "bar missing",
                                    "data-series": s.name, "data-group": label });
        bar.appendChild(svgEl("title", {}, `${s.label || s.name} · ${label}: ` +
                                           (ok ? f.valueFmt(v) : (s.missing || "n/a"))));
        f.svg.appendChild(bar);
        if (!ok) { // mark the slot so a missing value does not read as zero
          const mark = svgEl("text", { x: gx + si * barW + (barW - 2) / 2, y: zero - 4,
                                       class: "missing-mark", "text-anchor": "middle" }, "×");
          mark.appendChild(svgEl("title", {}, `${s.label || s.name} · ${label}: ` +
                                              (s.missing || "n/a")));
          f.svg.appendChild(mark);
        }
      });
      f.svg.appendChild(svgEl("text", { x: f.m.left + gi * groupW + groupW / 2,
                                        y: f.height - 12, class: "tick", "text-anchor": "middle" },
                              label));
    });
    return f.svg;
  }

  // Lines with point markers: one polyline per series over the x labels.
  function lineChart(container, opts) {
    const all = opts.series.flatMap((s) => s.values);
    const f = frame(container, opts, opts.x, all);
    const n = opts.x.length;
    const pad = 32; // keeps the first and last labels inside the frame
    const step = n > 1 ? (f.plotW - 2 * pad) / (n - 1) : 0;
    const xAt = (i) => (n > 1 ? f.m.left + pad + i * step : f.m.left + f.plotW / 2);
    opts.x.forEach((label, i) => {
      f.svg.appendChild(svgEl("text", { x: xAt(i), y: f.height - 12, class: "tick",
                                        "text-anchor": "middle" }, label));
    });
    for (const s of opts.series) {
      const pts = s.values.map((v, i) => [xAt(i), v, i]).filter(([, v]) => Number.isFinite(v));
      const line = svgEl("polyline", { points: pts.map(([x, v]) => `${x},${f.y(v)}`).join(" "),
                                       stroke: s.color, class: "series", fill: "none",
                                       "data-series": s.name });
      line.appendChild(svgEl("title", {}, s.label || s.name));
      f.svg.appendChild(line);
      pts.forEach(([x, v, i]) => {
        const dot = svgEl("circle", { cx: x, cy: f.y(v), r: 3.5, fill: s.color, class: "point",
                                      "data-series": s.name });
        dot.appendChild(svgEl("title", {}, `${s.label || s.name} · ${opts.x[i]}: ${f.valueFmt(v)}`));
        f.svg.appendChild(dot);
      });
    }
    return f.svg;
  }

  function legend(container, series) {
    container.replaceChildren(...series.map((s) => {
      const item = document.createElement("span");
      item.className = "legend-item";
      item.title = s.name;
      const swatch = document.createElement("i");
      swatch.style.background = s.color;
      item.append(swatch, document.createTextNode(s.label || s.name));
      return item;
    }));
  }

  window.FedCharts = { PALETTE, barChart, lineChart, legend, niceTicks };
})();
