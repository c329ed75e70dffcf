// The effect-goal charts (Chart.js): per goal, the districts of the last year against the
// target line, and each district's trend over the years with the city in bold.
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("goals-data").textContent);
  // "Farsta stadsdelsförvaltning" -> "Farsta": eleven long names do not fit under a bar.
  var short = function (label) { return label.replace(/s? stadsdelsförvaltning$/, ""); };
  var palette = ["#005aa0", "#e65100", "#2e7d32", "#6a1b9a", "#c62828", "#00838f", "#827717", "#4e342e", "#ad1457", "#283593", "#558b2f"];
  Chart.defaults.font.family = "system-ui, 'Segoe UI', Roboto, Arial, sans-serif";
  Chart.defaults.animation = false;
  data.goals.forEach(function (goal) {
    var share = goal.kind === "share";
    var scale = share ? 100 : 1;
    var show = function (v) { return v === null ? null : Math.round(v * scale * 10) / 10; };
    var last = data.years[data.years.length - 1];
    var districts = Object.keys(data.districts);
    var value = function (district, year) {
      var row = data.indicators.find(function (i) { return i.goal === goal.goal && i.year === year && i.district === district; });
      return row ? show(row.value) : null;
    };
    var axis = { beginAtZero: true, title: { display: true, text: share ? "procent" : "kvot mot basåret" } };
    new Chart(document.getElementById("bars-" + goal.goal), {
      data: {
        labels: districts.map(function (d) { return short(data.districts[d]); }).concat(["Staden"]),
        datasets: [
          { type: "bar", label: String(last), data: districts.map(function (d) { return value(d, last); }).concat([value(null, last)]),
            backgroundColor: districts.map(function () { return "#7fa7cf"; }).concat(["#005aa0"]) },
          { type: "line", label: "Mål", data: districts.map(function () { return show(goal.target); }).concat([show(goal.target)]),
            borderColor: "#c62828", borderDash: [6, 4], pointRadius: 0, fill: false }
        ]
      },
      options: { maintainAspectRatio: false, scales: { y: axis, x: { ticks: { autoSkip: false, maxRotation: 60 } } } }
    });
    var lines = districts.map(function (d, n) {
      return { label: short(data.districts[d]), data: data.years.map(function (y) { return value(d, y); }),
               borderColor: palette[n % palette.length], backgroundColor: palette[n % palette.length], spanGaps: true };
    });
    lines.push({ label: "Staden", data: data.years.map(function (y) { return value(null, y); }), borderColor: "#000", borderWidth: 3 });
    lines.push({ label: "Mål", data: data.years.map(function () { return show(goal.target); }), borderColor: "#c62828",
                 borderDash: [6, 4], pointRadius: 0 });
    new Chart(document.getElementById("trend-" + goal.goal), {
      type: "line",
      data: { labels: data.years.map(String), datasets: lines },
      options: { maintainAspectRatio: false, scales: { y: axis }, plugins: { legend: { labels: { boxWidth: 12 } } } }
    });
  });
  document.body.setAttribute("data-charts", "ready");
})();
