// Fills the access-code field from the link's fragment (#code=...), which
// browsers never send to the server, then removes it from the address bar
// so it is not bookmarked or shared by accident. A second link opened in
// the same tab changes only the fragment, so the page listens for that too.
(function () {
  function fromLink() {
    var match = /(?:^#|&)code=([^&]+)/.exec(window.location.hash);
    if (!match) return;
    var field = document.getElementById("code");
    if (field) {
      // Shown exactly as issued (word-word-word-word), as on the handout.
      field.value = decodeURIComponent(match[1]);
      field.setAttribute("readonly", "readonly");
    }
    if (window.history && window.history.replaceState) {
      window.history.replaceState(null, "", window.location.pathname + window.location.search);
    }
    var email = document.getElementById("email");
    if (email) email.focus();
  }
  fromLink();
  window.addEventListener("hashchange", fromLink);
})();
