// The handout's Print button. The handout allows no inline script, so the
// button is wired here.
(function () {
  var button = document.getElementById("print");
  if (!button) return;
  button.hidden = false;
  button.addEventListener("click", function () {
    window.print();
  });
})();
