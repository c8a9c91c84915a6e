// The training charts of a play page: the live curves of a job, and the ticked runs' validation curves.
//
// The live chart's canvas sits outside the polled status block, so an htmx swap never replaces it. The first
// render carries each series' (downsampled) history as JSON; each poll swaps in a new status block whose JSON
// holds only the points after the cursor, which are appended to the existing Chart instance. Every chart is
// kept in window.playbookCharts by its canvas id. No inline script or style: JSON arrives in
// <script type="application/json"> elements (json_script), which the Content-Security-Policy allows.
(function () {
  "use strict";
  // The same series has the same colour on every chart.
  const COLOURS = {
    train_loss: "rgba(102, 112, 133, 0.35)", train_loss_smoothed: "#2b5fd9",
    val_accuracy: "#1e7a46", val_macro_f1: "#b42318", val_false_positive_rate: "#9a6700",
    target: "#6941c6", baseline: "#475467",
  };
  const RUN_COLOURS = ["#2b5fd9", "#b42318", "#1e7a46", "#9a6700", "#6941c6", "#0e7490", "#c11574", "#475467"];
  const WORDS = {
    train_loss: "training loss", train_loss_smoothed: "training loss (smoothed)",
    val_accuracy: "validation accuracy", val_macro_f1: "validation macro-F1",
    val_false_positive_rate: "validation false-positive rate",
  };
  const ORDER = ["train_loss_smoothed", "train_loss", "val_macro_f1", "val_accuracy", "val_false_positive_rate"];
  const CAP = 500; // points drawn per series (Chart.js thins longer ones; the page keeps them all)
  const charts = {};
  window.playbookCharts = charts;

  function readJSON(id) {
    const element = id && document.getElementById(id);
    return element ? JSON.parse(element.textContent) : null;
  }

  // Dashed horizontal lines with their labels on the validation axis (Play 1's target, the best baseline).
  const referenceLines = {
    id: "referenceLines",
    afterDatasetsDraw: function (chart, args, options) {
      const scale = chart.scales.score;
      if (!scale || !options.lines) return;
      const ctx = chart.ctx, area = chart.chartArea;
      let lastLabel = null;
      options.lines.slice().sort(function (a, b) { return b.value - a.value; }).forEach(function (line) {
        const y = scale.getPixelForValue(line.value);
        if (y < area.top || y > area.bottom) return;
        // A label too close to the one above it goes under its line instead.
        let labelY = y - 4;
        if (lastLabel !== null && labelY - lastLabel < 13) labelY = Math.max(y + 13, lastLabel + 13);
        lastLabel = labelY;
        ctx.save();
        ctx.strokeStyle = ctx.fillStyle = COLOURS[line.key] || "#475467";
        ctx.setLineDash([6, 4]);
        ctx.lineWidth = 1.5;
        ctx.beginPath();
        ctx.moveTo(area.left, y);
        ctx.lineTo(area.right, y);
        ctx.stroke();
        ctx.font = "12px system-ui, sans-serif";
        ctx.textAlign = "right";
        ctx.fillText(line.label, area.right - 4, labelY);
        ctx.restore();
      });
    },
  };

  function scoreAxis(references, extra) {
    // Zoomed to the data (no fixed 0–1); the reference lines widen the range just enough to show.
    const values = references.map(function (line) { return line.value; });
    return Object.assign({
      type: "linear", position: "right", grid: { drawOnChartArea: false },
      suggestedMin: values.length ? Math.min.apply(null, values) : undefined,
      suggestedMax: values.length ? Math.max.apply(null, values) : undefined,
      title: { display: true, text: "validation" },
    }, extra || {});
  }

  function options(references, scales, xTitle) {
    return {
      animation: false, parsing: false, normalized: true, responsive: true, maintainAspectRatio: false,
      interaction: { mode: "nearest", intersect: false },
      scales: Object.assign({ x: { type: "linear", ticks: { precision: 0 }, title: { display: true, text: xTitle } } },
                            scales),
      plugins: {
        decimation: { enabled: true, algorithm: "lttb", samples: CAP, threshold: CAP },
        referenceLines: { lines: references },
        legend: { labels: { boxHeight: 2 } },
      },
    };
  }

  function seriesStyle(name) {
    const loss = name === "train_loss" || name === "train_loss_smoothed";
    return {
      label: WORDS[name] || name, key: name, data: [],
      borderColor: COLOURS[name] || "#475467", backgroundColor: COLOURS[name] || "#475467",
      yAxisID: loss ? "loss" : "score", pointRadius: loss ? 0 : 3, borderWidth: name === "train_loss" ? 1 : 2,
      order: name === "train_loss" ? 2 : 1,
    };
  }

  // Each dataset's points live in state.points[name]; the dataset is handed the array after every change
  // (Chart.js's decimation replaces what dataset.data reads while it thins a long series).
  function setPoints(chart, name, points) {
    const state = chart.$playbook;
    let dataset = chart.data.datasets.find(function (d) { return d.key === name; });
    if (!dataset) {
      // Datasets (and so the legend) keep one order whatever order the series arrive in.
      dataset = seriesStyle(name);
      const rank = function (key) { const i = ORDER.indexOf(key); return i < 0 ? ORDER.length : i; };
      chart.data.datasets.push(dataset);
      chart.data.datasets.sort(function (a, b) { return rank(a.key) - rank(b.key); });
    }
    state.points[name] = points;
    dataset.data = points;
  }

  function asPoints(pairs) {
    return pairs.map(function (p) { return { x: p[0], y: p[1] }; });
  }

  function apply(chart, curves) {
    const state = chart.$playbook;
    if (curves.history) {
      state.points = {};
      chart.data.datasets = [];
    }
    Object.keys(curves.series).forEach(function (name) {
      const fresh = asPoints(curves.series[name]);
      setPoints(chart, name, (state.points[name] || []).concat(fresh));
      if (name === "train_loss" && !curves.history && fresh.length) {
        // Continue the moving average from its last value with the same weight as the server.
        const smoothed = state.points.train_loss_smoothed || [];
        let current = smoothed.length ? smoothed[smoothed.length - 1].y : null;
        fresh.forEach(function (p) {
          current = current === null ? p.y : curves.smoothing * current + (1 - curves.smoothing) * p.y;
          smoothed.push({ x: p.x, y: current });
        });
        setPoints(chart, "train_loss_smoothed", smoothed);
      }
    });
    if (curves.history && curves.smoothed.train_loss) {
      setPoints(chart, "train_loss_smoothed", asPoints(curves.smoothed.train_loss));
    }
    state.cursor = curves.cursor;
    chart.update("none");
  }

  function liveChart(canvas) {
    if (typeof Chart === "undefined") return;
    const source = document.getElementById(canvas.dataset.curves);
    if (!source) return;
    let chart = charts[canvas.id];
    if (chart && chart.canvas !== canvas) {  // a re-rendered page part brought a new canvas: draw on it
      chart.destroy();
      chart = null;
    }
    if (!chart) {
      const refs = readJSON(canvas.dataset.references);
      const references = refs && refs.lines ? refs.lines : [];
      chart = new Chart(canvas, {
        type: "line", data: { datasets: [] }, plugins: [referenceLines],
        options: options(references, {
          loss: { type: "linear", position: "left", title: { display: true, text: "training loss" } },
          score: scoreAxis(references),
        }, "step"),
      });
      chart.$playbook = { points: {}, cursor: null, applied: null };
      charts[canvas.id] = chart;
    }
    // Each poll brings a new JSON element: apply it once.
    if (chart.$playbook.applied === source) return;
    chart.$playbook.applied = source;
    apply(chart, JSON.parse(source.textContent));
  }

  function overlayChart(canvas) {
    if (typeof Chart === "undefined") return;
    if (charts[canvas.id]) {
      if (charts[canvas.id].canvas === canvas) return;
      charts[canvas.id].destroy();  // the workspace was re-rendered (a job finished): a new table, a new chart
    }
    const overlay = readJSON(canvas.dataset.overlay);
    if (!overlay) return;
    const refs = readJSON(canvas.dataset.references);
    const references = refs && refs.lines && refs.metric === overlay.metric ? refs.lines : [];
    const boxes = Array.from(document.querySelectorAll("input.overlay-run"));
    const colour = {};
    boxes.forEach(function (box, i) { colour[box.value] = RUN_COLOURS[i % RUN_COLOURS.length]; });
    const chart = new Chart(canvas, {
      type: "line", data: { datasets: [] }, plugins: [referenceLines],
      options: options(references, { score: scoreAxis(references, { position: "left",
        grid: { drawOnChartArea: true }, title: { display: true, text: overlay.label } }) },
        "epoch (frozen head) or stage (unfreezing)"),
    });
    charts[canvas.id] = chart;
    function redraw() {
      chart.data.datasets = boxes.filter(function (box) { return box.checked; }).map(function (box) {
        return { label: box.dataset.label, key: box.value, data: asPoints(overlay.runs[box.value] || []),
                 borderColor: colour[box.value], backgroundColor: colour[box.value], yAxisID: "score",
                 pointRadius: 3, borderWidth: 2 };
      });
      chart.update("none");
    }
    boxes.forEach(function (box) { box.addEventListener("change", redraw); });
    redraw();
  }

  function drawAll() {
    document.querySelectorAll("canvas[data-curves]").forEach(liveChart);
    document.querySelectorAll("canvas[data-overlay]").forEach(overlayChart);
  }

  document.addEventListener("DOMContentLoaded", drawAll);
  // A poll swapped in a new status block (with the points after its cursor).
  document.addEventListener("htmx:load", drawAll);
})();
