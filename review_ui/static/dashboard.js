// Draws an incident's dashboard with ECharts (served by the app from its npm package).
// The data comes from the page's <script type="application/json" id="dashboard-data">
// block, built and escaped by the server; nothing here reads the URL or user input.
(function () {
  "use strict";
  var source = document.getElementById("dashboard-data");
  if (!source || typeof echarts === "undefined") { return; }
  var data = JSON.parse(source.textContent);
  var drawn = [];
  // A chart is drawn at its element's width: redraw on a new window size (a phone turned).
  window.addEventListener("resize", function () { drawn.forEach(function (chart) { chart.resize(); }); });

  function chartAt(element) {
    var chart = echarts.init(element);
    drawn.push(chart);
    return chart;
  }

  function seriesOf(group, kind) {
    return Object.keys(group.series).map(function (key) {
      return { name: group.labels[key] || key, type: kind, stack: kind === "bar" ? "all" : undefined,
               areaStyle: kind === "line" ? {} : undefined, smooth: true, data: group.series[key] };
    });
  }

  function overTime(id, group, kind) {
    var element = document.getElementById(id);
    if (!element) { return; }
    chartAt(element).setOption({
      animation: false,
      tooltip: { trigger: "axis" },
      legend: { top: 0 },
      grid: { left: 40, right: 16, top: 32, bottom: 28 },
      xAxis: { type: "category", data: data.buckets },
      yAxis: { type: "value", minInterval: 1 },
      series: seriesOf(group, kind)
    });
  }

  function shares(id, items) {
    var element = document.getElementById(id);
    if (!element) { return; }
    chartAt(element).setOption({
      animation: false,
      tooltip: { trigger: "item" },
      series: [{ type: "pie", radius: ["35%", "65%"], data: items.map(function (item) {
        return { name: item.label, value: item.count };
      }) }]
    });
  }

  function ranking(id, items) {
    var element = document.getElementById(id);
    if (!element) { return; }
    chartAt(element).setOption({
      animation: false,
      tooltip: { trigger: "axis" },
      grid: { left: 110, right: 16, top: 8, bottom: 24 },
      xAxis: { type: "value", minInterval: 1 },
      yAxis: { type: "category", inverse: true, data: items.map(function (item) { return item.label; }) },
      series: [{ type: "bar", data: items.map(function (item) { return item.count; }) }]
    });
  }

  overTime("chart-volume", data.volume, "line");
  overTime("chart-sentiment", data.sentiment, "bar");
  overTime("chart-emotion", data.emotion, "line");
  shares("chart-topics", data.topics);
  ranking("chart-places", data.places);
})();
