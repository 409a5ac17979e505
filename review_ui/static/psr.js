// Draws an incident's PSR timeline with ECharts: three bands on one time axis, pressure
// (posts, new rumor clusters and alerts as bars, the negative share as a line), state (the
// fact sheet's numbers as step lines) and response (releases, press conferences, alerts
// handled as marks), the phases as marked lines across all three bands. The data comes from the
// page's <script type="application/json" id="psr-data"> block, built and escaped by the
// server (review_ui/psr.py); nothing here reads the URL or user input.
(function () {
  "use strict";
  var source = document.getElementById("psr-data");
  if (!source || typeof echarts === "undefined") { return; }
  var data = JSON.parse(source.textContent);
  var chart = crisiswatchCharts.chartAt("chart-psr");
  if (!chart) { return; }
  var names = data.names;
  var kinds = ["release", "press_conference", "alert_acknowledged", "alert_closed"];
  var bands = [{ top: 56, height: "34%" }, { top: "52%", height: "20%" }, { top: "78%", height: "12%" }];

  var phases = {
    silent: true, symbol: "none", lineStyle: { type: "dashed", color: "#c00" },
    label: { formatter: "{b}", color: "#c00" },
    data: data.phases.map(function (phase) { return { name: phase.name, xAxis: phase.at }; })
  };
  var phasesUnlabelled = Object.assign({}, phases, { label: { show: false } });

  function bars(name, axis) {
    return { name: names[name], type: "bar", xAxisIndex: 0, yAxisIndex: axis, data: data.pressure[name] };
  }

  var series = [
    bars("posts", 0),
    bars("rumor_clusters", 0),
    bars("alerts", 0),
    // the phases marked on the line: on a bar they would stand at that bar, off the bucket's middle
    { name: names.negative_share, type: "line", xAxisIndex: 0, yAxisIndex: 1, connectNulls: false,
      data: data.pressure.negative_share, markLine: phases }
  ];
  data.state.forEach(function (fact, n) {
    series.push({ name: fact.name, type: "line", step: "start", xAxisIndex: 1, yAxisIndex: 2, data: fact.data,
                  markLine: n === 0 ? phasesUnlabelled : undefined });
  });
  kinds.forEach(function (kind, n) {
    series.push({
      name: names[kind], type: "scatter", xAxisIndex: 2, yAxisIndex: 3, symbolSize: 12,
      symbol: kind.indexOf("alert") === 0 ? "triangle" : "circle",
      markLine: n === 0 ? phasesUnlabelled : undefined,
      data: data.response.filter(function (event) { return event.kind === kind; })
        .map(function (event) { return { name: event.label, value: [event.at, names[kind]] }; })
    });
  });

  chart.setOption({
    animation: false,
    legend: { top: 0, type: "scroll" },
    // drawn on the canvas, as text: an HTML tooltip sets inline styles, which the CSP blocks
    tooltip: { trigger: "item", renderMode: "richText", formatter: function (item) {
      return item.seriesName + "\n" + (item.name || "") + " " +
        (Array.isArray(item.value) ? item.value[0] : item.value);
    } },
    axisPointer: { link: [{ xAxisIndex: "all" }] },
    grid: bands.map(function (band) { return { left: 56, right: 56, top: band.top, height: band.height }; }),
    xAxis: bands.map(function (band, n) {
      return { type: "category", gridIndex: n, data: data.buckets, axisLabel: { show: n === 2 } };
    }),
    yAxis: [
      { type: "value", gridIndex: 0, minInterval: 1, name: names.pressure },
      { type: "value", gridIndex: 0, min: 0, max: 100, axisLabel: { formatter: "{value}%" } },
      { type: "value", gridIndex: 1, name: names.state, scale: true },
      { type: "category", gridIndex: 2, name: names.response, data: kinds.map(function (kind) { return names[kind]; }),
        axisLabel: { show: false } }
    ],
    series: series
  });
}());
