// The count of open alerts in the top bar, asked of /api/alerts/count every 20 s so
// that a new alert shows without a reload (the CSP allows no inline script).
(function () {
  "use strict";
  var badge = document.getElementById("alert-count");
  if (!badge) {
    return;
  }
  function show(count) {
    badge.textContent = String(count);
    badge.hidden = count === 0;
  }
  function poll() {
    fetch(badge.dataset.url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) { if (data) { show(data.open); } })
      .catch(function () { /* offline for a moment: the next poll tries again */ });
  }
  poll();
  setInterval(poll, 20000);
}());
