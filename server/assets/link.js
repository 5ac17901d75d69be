// Moves the token of an emailed link (#token=...) into the page's form and
// out of the address bar. Browsers never send the fragment to a server.
(function () {
  var match = /(?:^#|&)token=([^&]+)/.exec(window.location.hash);
  if (!match) return;
  var field = document.getElementById("token");
  if (field) field.value = decodeURIComponent(match[1]);
  if (window.history && window.history.replaceState) {
    window.history.replaceState(null, "", window.location.pathname + window.location.search);
  }
  var next = document.querySelector("[data-after-token]");
  if (next) next.focus();
})();
