// The director's clock (/drill/): the scenario time the server gave, moved on each second
// at the drill's speed while it runs. The page's buttons change the state (a reload).
(function () {
  var clock = document.getElementById("drill-clock-value");
  if (!clock || !clock.hasAttribute("data-running")) return;
  var offset = parseFloat(clock.dataset.offset), speed = parseFloat(clock.dataset.speed);
  var length = parseFloat(clock.dataset.length), since = Date.now();
  function two(n) { return (n < 10 ? "0" : "") + n; }
  setInterval(function () {
    var seconds = Math.floor(Math.min(length, offset + (Date.now() - since) / 1000 * speed));
    clock.textContent = Math.floor(seconds / 3600) + ":" + two(Math.floor(seconds / 60) % 60) + ":" + two(seconds % 60);
  }, 1000);
})();
