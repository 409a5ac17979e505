// What the pages that draw ECharts charts share (dashboard.js, spread.js; load it first).
// A chart is drawn at its element's width: each one made here is redrawn on a new window
// size (a phone turned).
var crisiswatchCharts = (function () {
  "use strict";
  var drawn = [];
  window.addEventListener("resize", function () { drawn.forEach(function (chart) { chart.resize(); }); });

  // The chart drawn in the element with this id, or null where the page has no such element.
  function chartAt(id) {
    var element = document.getElementById(id);
    if (!element) { return null; }
    var chart = echarts.init(element);
    drawn.push(chart);
    return chart;
  }

  return { chartAt: chartAt };
}());
