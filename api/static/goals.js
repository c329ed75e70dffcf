// The effect-goal charts (Chart.js).  Per goal: the districts of the last year against the target
// line, and the trend of the city and the chosen district over the years.  Every text drawn here
// ("3 av 4", "66,7 %", "inget att räkna") comes written from the server (api/goals/words.py), so
// the charts and the tables beside them say the same in the same Swedish convention; only the axis
// ticks are formatted here, with the browser's sv-SE number format.
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("goals-data").textContent);
  var numbers = new Intl.NumberFormat("sv-SE", { maximumFractionDigits: 2 });
  var BAR = "#7fa7cf", CITY = "#005aa0", TARGET = "#b3261e", INK = "#1b1f24";
  var SERIES = ["#000000", "#e65100"];
  Chart.defaults.font.family = "system-ui, 'Segoe UI', Roboto, Arial, sans-serif";
  Chart.defaults.animation = false;
  Chart.defaults.locale = "sv-SE";

  // Bars that miss the target are striped, not only another colour: the stripes carry the meaning
  // for anyone who cannot tell the colours apart, and in a print in black and white.
  function stripes(colour) {
    var tile = document.createElement("canvas");
    tile.width = tile.height = 8;
    var pen = tile.getContext("2d");
    pen.fillStyle = "#ffffff";
    pen.fillRect(0, 0, 8, 8);
    pen.strokeStyle = colour;
    pen.lineWidth = 3;
    pen.beginPath();
    pen.moveTo(-2, 10); pen.lineTo(10, -2);
    pen.moveTo(-2, 2); pen.lineTo(2, -2);
    pen.moveTo(6, 10); pen.lineTo(10, 6);
    pen.stroke();
    return pen.createPattern(tile, "repeat");
  }

  // Writes each bar's "3 av 4" above it, and "inget att räkna" upright from the axis where there
  // is no bar: an empty place must not read as 0 %.
  function barTexts(goal) {
    return { id: "barTexts", afterDatasetsDraw: function (chart) {
      var bars = goal.bars, meta = chart.getDatasetMeta(0), pen = chart.ctx, bottom = chart.scales.y.getPixelForValue(0);
      pen.save();
      pen.fillStyle = INK;
      pen.font = "12px " + Chart.defaults.font.family;
      pen.textAlign = "center";
      meta.data.forEach(function (element, n) {
        var bar = bars[n];
        if (bar.value === null) {
          pen.save();
          pen.translate(element.x, bottom - 6);
          pen.rotate(-Math.PI / 2);
          pen.textAlign = "left";
          pen.fillStyle = "#5b6570";
          pen.fillText(bar.text, 0, 4);
          pen.restore();
        } else {
          pen.fillText(bar.count, element.x, element.y - 5);
        }
      });
      pen.restore();
    } };
  }

  // In the trend, a year with nothing to count is a gap in the line, and said in words at the axis.
  function gapTexts(goal) {
    return { id: "gapTexts", afterDatasetsDraw: function (chart) {
      var pen = chart.ctx, x = chart.scales.x, bottom = chart.scales.y.getPixelForValue(0);
      pen.save();
      pen.font = "12px " + Chart.defaults.font.family;
      goal.trend.forEach(function (row, n) {
        row.cells.forEach(function (cell, s) {
          if (cell.value !== null) { return; }
          pen.fillStyle = SERIES[s % SERIES.length];
          // The first and the last year sit on the chart's edges: their words run inwards.
          pen.textAlign = n === 0 ? "left" : (n === goal.trend.length - 1 ? "right" : "center");
          pen.fillText(goal.series[s] + ": " + cell.text, x.getPixelForValue(n), bottom - 8 - 16 * s);
        });
      });
      pen.restore();
    } };
  }

  function axis(goal) {
    return {
      beginAtZero: true,
      suggestedMax: goal.share ? 100 : undefined,
      grace: goal.share ? 0 : "10%",  // room above the highest ratio for its "5 mot 2"
      title: { display: true, text: goal.share ? "procent" : "gånger basåret" },
      ticks: { callback: function (v) { return numbers.format(v) + (goal.share ? "\u00a0%" : ""); } }
    };
  }

  function tooltip(cellOf) {
    return { callbacks: { label: function (item) {
      var cell = cellOf(item);
      if (!cell) { return item.dataset.label; }
      return item.dataset.label + ": " + cell.text + (cell.count ? " (" + cell.count + ")" : "") + ", " + cell.status_text;
    } } };
  }

  function targetLine(goal, length) {
    var line = [];
    for (var n = 0; n < length; n += 1) { line.push(goal.target); }
    return { type: "line", label: "Mål: " + goal.target_text, data: line, borderColor: TARGET, borderDash: [6, 4],
             pointRadius: 0, fill: false };
  }

  // The legend would take the first bar's fill, striped if that district misses the target.
  function plainBars(chart) {
    var items = Chart.defaults.plugins.legend.labels.generateLabels(chart);
    items[0].fillStyle = BAR;
    return items;
  }

  function bars(goal) {
    new Chart(document.getElementById("bars-" + goal.goal), {
      data: {
        labels: goal.bars.map(function (b) { return b.place; }),
        datasets: [
          { type: "bar", label: String(data.years[data.years.length - 1]),
            data: goal.bars.map(function (b) { return b.value; }),
            backgroundColor: goal.bars.map(function (b) {
              var colour = b.city ? CITY : BAR;
              return b.status === "unmet" ? stripes(colour) : colour;
            }),
            borderColor: goal.bars.map(function (b) { return b.city ? CITY : "#4d7fb0"; }), borderWidth: 1 },
          targetLine(goal, goal.bars.length)
        ]
      },
      options: {
        maintainAspectRatio: false,
        layout: { padding: { top: 18 } },
        scales: { y: axis(goal), x: { ticks: { autoSkip: false, maxRotation: 60 } } },
        plugins: {
          legend: { labels: { generateLabels: plainBars, padding: 16 } },
          tooltip: tooltip(function (item) { return item.datasetIndex === 0 ? goal.bars[item.dataIndex] : null; })
        }
      },
      plugins: [barTexts(goal)]
    });
  }

  function trend(goal) {
    var lines = goal.series.map(function (name, s) {
      return { type: "line", label: name, data: goal.trend.map(function (row) { return row.cells[s].value; }),
               borderColor: SERIES[s % SERIES.length], backgroundColor: SERIES[s % SERIES.length],
               borderWidth: s === 0 ? 3 : 2, pointStyle: s === 0 ? "circle" : "rect", pointRadius: 4, spanGaps: false };
    });
    lines.push(targetLine(goal, goal.trend.length));
    new Chart(document.getElementById("trend-" + goal.goal), {
      type: "line",
      data: { labels: goal.trend.map(function (row) { return String(row.year); }), datasets: lines },
      options: {
        maintainAspectRatio: false,
        layout: { padding: { top: 18 } },
        scales: { y: axis(goal) },
        plugins: {
          legend: { labels: { boxWidth: 12 } },
          tooltip: tooltip(function (item) {
            return item.datasetIndex < goal.series.length ? goal.trend[item.dataIndex].cells[item.datasetIndex] : null;
          })
        }
      },
      plugins: [gapTexts(goal)]
    });
  }

  data.goals.forEach(function (goal) {
    bars(goal);
    trend(goal);
  });
  document.body.setAttribute("data-charts", "ready");
})();
