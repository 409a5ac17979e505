// Draws how a post or a cluster spread: its tree and its depth and breadth over time.
// The data comes from the page's <script type="application/json" id="spread-data"> block,
// built by the server. Tooltips are drawn on the canvas (renderMode "richText"): their
// texts, post texts among them, are never HTML, and no inline style meets the CSP.
(function () {
  "use strict";
  var source = document.getElementById("spread-data");
  if (!source || typeof echarts === "undefined") { return; }
  var data = JSON.parse(source.textContent);
  var chartAt = crisiswatchCharts.chartAt;

  var tree = chartAt("chart-tree");
  if (tree) {
    tree.setOption({
      animation: false,
      tooltip: {
        trigger: "item", renderMode: "richText",
        formatter: function (item) {
          var node = item.data;
          return node.id ? node.name + " · " + node.value + "\n" + (node.text || "") : "";
        }
      },
      series: [{
        type: "tree", layout: "radial", data: [data.tree], roam: true, initialTreeDepth: -1,
        symbolSize: 6, expandAndCollapse: false,
        label: { fontSize: 10 }  // shown on the nodes the server names (each node's label.show)
      }]
    });
    tree.on("click", function (item) {
      if (item.data && item.data.id) { window.location.href = "/posts/" + encodeURIComponent(item.data.id); }
    });
  }

  var growth = chartAt("chart-growth");
  if (growth) {
    growth.setOption({
      animation: false,
      tooltip: { trigger: "axis", renderMode: "richText" },
      legend: { top: 0 },
      grid: { left: 40, right: 40, top: 32, bottom: 28 },
      xAxis: { type: "category", data: data.times },
      yAxis: [{ type: "value", minInterval: 1 }, { type: "value", minInterval: 1, position: "right" }],
      series: [
        { name: data.names.depth, type: "line", step: "end", data: data.depth },
        { name: data.names.breadth, type: "line", step: "end", data: data.breadth },
        { name: data.names.posts, type: "line", yAxisIndex: 1, areaStyle: {}, data: data.posts }
      ]
    });
  }
}());
