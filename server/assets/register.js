// Fills the access-code field from the link's fragment (#code=...), which
// browsers never send to the server, then removes it from the address bar
// so it is not bookmarked or shared by accident. A second link opened in
// the same tab changes only the fragment, so the page listens for that too.
(function () {
  function fromLink() {
    var match = /(?:^#|&)code=([^&]+)/.exec(window.location.hash);
    if (!match) return;
    // The address the link was mailed to, when it came by mail.
    var to = /(?:^#|&)email=([^&]+)/.exec(window.location.hash);
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
    // Filled in for the patient, who may change it.
    if (email && to && !email.value) {
      email.value = decodeURIComponent(to[1]);
    }
    var password = document.getElementById("password");
    if (email && !email.value) email.focus();
    else if (password) password.focus();
    if (field) check(field.value);
  }

  // Asks the server whether the code will work before the patient fills
  // in the form; a code that will not (cancelled, replaced by a newer one,
  // expired, used) is told at once, in the page's alert, as the form's
  // answer would tell it.
  function check(code) {
    var form = document.getElementById("register");
    if (!form || !window.fetch || !window.URLSearchParams) return;
    var url = form.getAttribute("action").replace(/\/register$/, "/code-check");
    fetch(url, {
      method: "POST",
      // Asked for as JSON: the portal answers a person's errors as pages.
      headers: { "Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json" },
      body: new URLSearchParams({ code: code }).toString(),
      credentials: "same-origin"
    }).then(function (resp) {
      if (resp.ok || resp.status >= 500) return null;
      return resp.json();
    }).then(function (refused) {
      if (!refused || !refused.message) return;
      var alert = document.getElementById("code-refused");
      alert.textContent = refused.message;
      alert.hidden = false;
      var input = document.getElementById("code");
      if (input) input.setAttribute("aria-invalid", "true");
    }).catch(function () {});
  }
  fromLink();
  window.addEventListener("hashchange", fromLink);
})();
