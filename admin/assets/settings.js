// The settings page: the preview follows the colour pickers as they move,
// each picker shows its value in words, and the time zone can be set to
// the browser's own. The page works without it; this only adds.
(function () {
  var preview = document.getElementById("brand-preview");
  [["primary_colour", "--preview-brand"], ["accent_colour", "--preview-accent"]].forEach(function (pair) {
    var input = document.getElementById(pair[0]);
    var shown = document.getElementById(pair[0] + "-value");
    if (!input) return;
    var follow = function () {
      if (preview) preview.style.setProperty(pair[1], input.value);
      if (shown) shown.textContent = input.value;
    };
    input.addEventListener("input", follow);
    // A page drawn again after a refused save shows the colours typed.
    follow();
  });

  var zone = document.getElementById("time_zone");
  var suggest = document.getElementById("use-browser-zone");
  var browserZone = window.Intl && Intl.DateTimeFormat().resolvedOptions().timeZone;
  // A field in a disabled fieldset is not itself disabled: ask the fieldset.
  var locked = zone && (zone.disabled || zone.closest("fieldset:disabled"));
  if (zone && suggest && browserZone && browserZone !== zone.value && !locked) {
    suggest.textContent = "Use this browser's time zone (" + browserZone + ")";
    suggest.hidden = false;
    suggest.addEventListener("click", function () {
      zone.value = browserZone;
      zone.focus();
    });
  }
})();
