/* The dashboard page: draws the pools, the jobs per status, the throughput chart (inline SVG)
   and the recent errors from data.json, and fetches it again every few seconds. No libraries. */
"use strict";

(function () {
  const SVG_NS = "http://www.w3.org/2000/svg";
  const root = document.getElementById("dashboard");
  const url = root.dataset.url;
  const refreshMs = Number(root.dataset.refreshMs) || 2000;
  let last = null;

  /* An element with attributes and children (strings become text, never HTML). */
  function make(ns, tag, attrs, children) {
    const node = ns ? document.createElementNS(ns, tag) : document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value !== null && value !== undefined) node.setAttribute(name, value);
    }
    for (const child of children || []) node.append(child);
    return node;
  }
  const h = (tag, attrs, ...children) => make(null, tag, attrs, children);
  const s = (tag, attrs, ...children) => make(SVG_NS, tag, attrs, children);

  const number = (n) => (n === null || n === undefined ? "—" : n.toLocaleString("en-US"));
  const pad = (n) => String(n).padStart(2, "0");
  const clock = (unix) => {
    const d = new Date(unix * 1000);
    return pad(d.getHours()) + ":" + pad(d.getMinutes());
  };

  function ago(seconds) {
    if (seconds === null || seconds === undefined) return "never";
    if (seconds < 90) return Math.round(seconds) + " s ago";
    if (seconds < 90 * 60) return Math.round(seconds / 60) + " min ago";
    if (seconds < 48 * 3600) return Math.round(seconds / 3600) + " h ago";
    return Math.round(seconds / 86400) + " days ago";
  }

  function drawPools(data) {
    const known = !data.error;
    const rows = data.queues.map((q) =>
      h("tr", { "data-queue": q.queue, class: q.served ? null : "stale" },
        h("td", {},
          h("span", { class: "dot " + (known ? (q.served ? "live" : "dead") : "unknown"),
                      title: known ? (q.served ? "served" : "no live worker") : "unknown" }),
          h("span", { class: "queue" }, q.queue), " ",
          h("span", { class: "quiet" }, q.description)),
        h("td", { class: "num depth" }, number(q.depth)),
        h("td", { class: "num workers", title: q.workers.join("\n") || null },
          known ? number(q.workers.length) : "—"),
        h("td", { class: "heartbeat nowrap" }, known ? ago(q.heartbeat_age) : "—")));
    document.querySelector("#dash-pools tbody").replaceChildren(...rows);
  }

  function drawStatuses(data) {
    let total = 0;
    const rows = Object.entries(data.statuses).map(([status, count]) => {
      total += count;
      return h("tr", { "data-status": status },
        h("th", { scope: "row" }, h("span", { class: "dot " + status }), status),
        h("td", { class: "num" }, number(count)));
    });
    document.querySelector("#dash-statuses tbody").replaceChildren(...rows);
    document.getElementById("dash-total").textContent = number(total);
  }

  /* A step of 1, 2 or 5 times a power of ten giving about four grid lines up to peak. */
  function niceStep(peak) {
    const raw = peak / 4;
    if (raw <= 1) return 1;
    const magnitude = 10 ** Math.floor(Math.log10(raw));
    const r = raw / magnitude;
    return (r <= 1 ? 1 : r <= 2 ? 2 : r <= 5 ? 5 : 10) * magnitude;
  }

  function drawChart(throughput) {
    const box = document.getElementById("dash-chart");
    const counts = throughput.per_minute;
    const width = Math.max(360, box.clientWidth - 8);
    const height = 240;
    const m = { left: 56, right: 16, top: 14, bottom: 46 };
    const plotW = width - m.left - m.right;
    const plotH = height - m.top - m.bottom;
    const peak = Math.max(0, ...counts);
    const step = niceStep(peak);
    const top = Math.max(peak < 4 ? 4 : step, step * Math.ceil(peak / step));
    const y = (v) => m.top + plotH - (v / top) * plotH;
    const slot = plotW / counts.length;
    const svg = s("svg", { viewBox: `0 0 ${width} ${height}`, width, height });

    for (let v = 0; v <= top; v += step) {
      svg.append(s("line", { class: "grid", x1: m.left, x2: width - m.right, y1: y(v), y2: y(v) }));
      svg.append(s("text", { class: "tick", x: m.left - 8, y: y(v) + 4, "text-anchor": "end" },
        number(v)));
    }
    counts.forEach((count, i) => {
      if (!count) return;
      const minute = throughput.start + i * 60;
      svg.append(s("rect", {
        class: "bar", x: m.left + i * slot + slot * 0.1, y: y(count),
        width: slot * 0.8, height: plotH + m.top - y(count), "data-count": count,
      }, s("title", {}, `${clock(minute)}: ${number(count)} job${count === 1 ? "" : "s"}`)));
    });
    const base = m.top + plotH;
    svg.append(s("line", { class: "axis", x1: m.left, x2: width - m.right, y1: base, y2: base }));
    svg.append(s("line", { class: "axis", x1: m.left, x2: m.left, y1: m.top, y2: base }));
    for (let i = 0; i <= counts.length; i += 10) {
      const x = m.left + i * slot;
      svg.append(s("line", { class: "axis", x1: x, x2: x, y1: base, y2: base + 5 }));
      svg.append(s("text", { class: "tick", x, y: base + 18, "text-anchor": "middle" },
        clock(throughput.start + i * 60)));
    }
    svg.append(s("text", { class: "title", x: m.left + plotW / 2, y: height - 6,
      "text-anchor": "middle" }, "minute finished (local time)"));
    svg.append(s("text", { class: "title", x: -(m.top + plotH / 2), y: 14,
      transform: "rotate(-90)", "text-anchor": "middle" }, "jobs / minute"));
    if (!peak) {
      svg.append(s("text", { class: "empty", x: m.left + plotW / 2, y: m.top + plotH / 2,
        "text-anchor": "middle" }, "no job finished in the last hour"));
    }
    box.replaceChildren(svg);
    const total = counts.reduce((a, b) => a + b, 0);
    document.getElementById("dash-chart-title").textContent =
      `Throughput: ${number(total)} job${total === 1 ? "" : "s"} finished in the last hour`;
  }

  function drawErrors(data) {
    const rows = data.errors.map((e) =>
      h("tr", { "data-jid": e.jid },
        h("td", {}, e.url ? h("a", { href: e.url }, "#" + e.jid) : "#" + e.jid),
        h("td", { class: "nowrap" }, h("span", { class: "dot " + e.status }), e.status),
        h("td", { class: "function" }, e.function),
        h("td", {}, e.label),
        h("td", { class: "error-text" }, e.error),
        h("td", { class: "nowrap", title: e.when }, ago(e.age))));
    if (!rows.length) {
      rows.push(h("tr", {}, h("td", { colspan: 6, class: "quiet" }, "No failed jobs.")));
    }
    document.querySelector("#dash-errors tbody").replaceChildren(...rows);
  }

  function setStatus(text, failed) {
    document.getElementById("dash-updated").textContent = text;
    document.querySelector(".dash-status").classList.toggle("failed", failed);
  }

  function draw(data) {
    last = data;
    document.getElementById("dash-broker").textContent = data.broker;
    const banner = document.getElementById("dash-broker-error");
    banner.hidden = !data.error;
    banner.querySelector("li").textContent = data.error || "";
    drawPools(data);
    drawStatuses(data);
    drawChart(data.throughput);
    drawErrors(data);
    const now = new Date(data.now * 1000);
    setStatus(`updated ${clock(data.now)}:${pad(now.getSeconds())}`, false);
  }

  async function refresh() {
    let again = true;
    try {
      if (!document.hidden) {
        const response = await fetch(url, { headers: { Accept: "application/json" },
                                            cache: "no-store", credentials: "same-origin" });
        if (response.redirected) {
          again = false;
          setStatus("logged out: reload the page to log in again", true);
        } else if (!response.ok) {
          throw new Error(`HTTP ${response.status}`);
        } else {
          draw(await response.json());
        }
      }
    } catch (error) {
      setStatus(`update failed (${error.message}), retrying`, true);
    }
    if (again) window.setTimeout(refresh, refreshMs);
  }

  let resizing = false;
  window.addEventListener("resize", () => {
    if (resizing || !last) return;
    resizing = true;
    window.requestAnimationFrame(() => { resizing = false; drawChart(last.throughput); });
  });

  draw(JSON.parse(document.getElementById("dashboard-data").textContent));
  window.setTimeout(refresh, refreshMs);
})();
