// Draws the live training curves of a job from the JSON that the polled progress fragment carries.
// htmx swaps the fragment every few seconds; each swap redraws its chart from the fresh numbers.
(function () {
  const charts = new Map();
  const colours = ["#2b5fd9", "#1e7a46", "#b42318", "#9a6700", "#6941c6"];

  function draw(root) {
    root.querySelectorAll("canvas[data-series]").forEach(function (canvas) {
      const source = document.getElementById(canvas.dataset.series);
      if (!source || typeof Chart === "undefined") return;
      const series = JSON.parse(source.textContent);
      const names = Object.keys(series).filter(function (n) { return n === "train_loss" || n.startsWith("val_"); });
      const datasets = names.map(function (name, i) {
        return {
          label: name, data: series[name].map(function (p) { return { x: p[0], y: p[1] }; }),
          borderColor: colours[i % colours.length], backgroundColor: colours[i % colours.length],
          yAxisID: name === "train_loss" ? "loss" : "score", pointRadius: name === "train_loss" ? 0 : 3,
          borderWidth: 2, tension: 0.2,
        };
      });
      const previous = charts.get(canvas.id);
      if (previous) previous.destroy();
      charts.set(canvas.id, new Chart(canvas, {
        type: "line", data: { datasets: datasets },
        options: {
          animation: false, parsing: false, responsive: true, maintainAspectRatio: false,
          scales: {
            x: { type: "linear", title: { display: true, text: "step" } },
            loss: { type: "linear", position: "left", title: { display: true, text: "training loss" } },
            score: { type: "linear", position: "right", min: 0, max: 1, grid: { drawOnChartArea: false },
                     title: { display: true, text: "validation" } },
          },
        },
      }));
    });
  }

  document.addEventListener("DOMContentLoaded", function () { draw(document); });
  document.addEventListener("htmx:afterSwap", function (event) { draw(event.target.parentElement || document); });
})();
