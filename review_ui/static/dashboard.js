// Draws an incident's dashboard with ECharts (served by the app from its npm package).
// The data comes from the page's <script type="application/json" id="dashboard-data">
// block, built and escaped by the server; nothing here reads the URL or user input.
(function () {
  "use strict";
  var source = document.getElementById("dashboard-data");
  if (!source || typeof echarts === "undefined") { return; }
  var data = JSON.parse(source.textContent);
  var chartAt = crisiswatchCharts.chartAt;

  function seriesOf(group, kind) {
    return Object.keys(group.series).map(function (key) {
      return { name: group.labels[key] || key, type: kind, stack: kind === "bar" ? "all" : undefined,
               areaStyle: kind === "line" ? {} : undefined, smooth: true, data: group.series[key] };
    });
  }

  function overTime(id, group, kind) {
    var chart = chartAt(id);
    if (!chart) { return; }
    chart.setOption({
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
    var chart = chartAt(id);
    if (!chart) { return; }
    chart.setOption({
      animation: false,
      tooltip: { trigger: "item" },
      series: [{ type: "pie", radius: ["35%", "65%"], data: items.map(function (item) {
        return { name: item.label, value: item.count };
      }) }]
    });
  }

  function ranking(id, items) {
    var chart = chartAt(id);
    if (!chart) { return; }
    chart.setOption({
      animation: false,
      tooltip: { trigger: "axis" },
      grid: { left: 110, right: 16, top: 8, bottom: 24 },
      xAxis: { type: "value", minInterval: 1 },
      yAxis: { type: "category", inverse: true, data: items.map(function (item) { return item.label; }) },
      series: [{ type: "bar", data: items.map(function (item) { return item.count; }) }]
    });
  }

  // Provinces, or the cities of the one chosen in #map-scope, coloured by their posts in
  // the place facet (map.counts, by administrative code); the shapes are the GeoJSON files
  // of vendor/china-map/<code>.json, keyed by the same codes. A click on a region opens the
  // dashboard's search filtered to that place.
  function placeMap(id, map) {
    var scope = document.getElementById("map-scope");
    var chart = map && chartAt(id);
    if (!chart) { return; }
    var shown = "100000";
    chart.on("click", function (params) {
      if (!params.data) { return; }
      var url = new URL(map.search, window.location.href);
      url.searchParams.set("place", params.data.code);
      window.location.assign(url.href);
    });

    function draw(code) {
      fetch(map.geo + code + ".json").then(function (response) {
        if (!response.ok) { throw new Error(response.url + ": " + response.status); }
        return response.json();
      }).then(function (geo) {
        echarts.registerMap(code, geo);
        var regions = geo.features.map(function (feature) {
          var place = String(feature.properties.adcode);
          return { name: feature.properties.name, code: place, value: map.counts[place] || 0 };
        });
        var most = Math.max.apply(null, [1].concat(regions.map(function (region) { return region.value; })));
        chart.setOption({
          animation: false,
          // the tooltip drawn on the canvas: an HTML one sets inline styles, which the CSP blocks
          tooltip: { trigger: "item", renderMode: "richText" },
          visualMap: { min: 0, max: most, left: 0, bottom: 0, calculable: true,
                       inRange: { color: ["#e3f2fd", "#1565c0"] } },
          series: [{ type: "map", map: code, selectedMode: false, data: regions }]
        }, true);
        shown = code;
      }).catch(function () {  // a province without a file of its cities: the map stays as it was
        if (scope) { scope.value = shown; }
      });
    }

    if (scope) { scope.addEventListener("change", function () { draw(scope.value); }); }
    draw(shown);
  }

  overTime("chart-volume", data.volume, "line");
  overTime("chart-sentiment", data.sentiment, "bar");
  overTime("chart-emotion", data.emotion, "line");
  shares("chart-topics", data.topics);
  ranking("chart-places", data.places);
  placeMap("chart-map", data.map);
})();
