// Passkeys on the console and the portal: signing in with one, adding one,
// and confirming a sensitive act with one. The browser's WebAuthn calls
// need script; every page still works without it, by password and code.
(function () {
  if (!window.PublicKeyCredential || !navigator.credentials) return;
  // Browsers allow passkeys only on a named host: at an IP address the
  // sign-in buttons would only fail, so they stay hidden.
  var onAddress = /^[0-9.]+$/.test(location.hostname) || location.hostname.indexOf(":") >= 0 || location.hostname.charAt(0) === "[";

  // Base64url <-> bytes, for browsers without the JSON helpers.
  function bytes(b64) {
    var s = atob(b64.replace(/-/g, "+").replace(/_/g, "/"));
    var out = new Uint8Array(s.length);
    for (var i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
    return out.buffer;
  }
  function b64(buf) {
    var s = "", a = new Uint8Array(buf);
    for (var i = 0; i < a.length; i++) s += String.fromCharCode(a[i]);
    return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  function creationOptions(o) {
    if (PublicKeyCredential.parseCreationOptionsFromJSON) return PublicKeyCredential.parseCreationOptionsFromJSON(o);
    o.challenge = bytes(o.challenge);
    o.user.id = bytes(o.user.id);
    (o.excludeCredentials || []).forEach(function (c) { c.id = bytes(c.id); });
    return o;
  }
  function requestOptions(o) {
    if (PublicKeyCredential.parseRequestOptionsFromJSON) return PublicKeyCredential.parseRequestOptionsFromJSON(o);
    o.challenge = bytes(o.challenge);
    (o.allowCredentials || []).forEach(function (c) { c.id = bytes(c.id); });
    return o;
  }
  function asJson(cred) {
    if (cred.toJSON) return cred.toJSON();
    var r = cred.response, out = { id: cred.id, rawId: b64(cred.rawId), type: cred.type, response: { clientDataJSON: b64(r.clientDataJSON) }, clientExtensionResults: {} };
    if (r.attestationObject) out.response.attestationObject = b64(r.attestationObject);
    if (r.authenticatorData) out.response.authenticatorData = b64(r.authenticatorData);
    if (r.signature) out.response.signature = b64(r.signature);
    if (r.userHandle) out.response.userHandle = b64(r.userHandle);
    return out;
  }
  function tell(where, text) {
    if (!where) return;
    where.textContent = text;
    where.hidden = false;
  }
  function post(url, body, headers) {
    headers = headers || {};
    headers["content-type"] = "application/json";
    headers["accept"] = "application/json";
    return fetch(url, { method: "POST", headers: headers, body: JSON.stringify(body || {}), credentials: "same-origin" })
      .then(function (r) {
        return r.json().catch(function () { return {}; }).then(function (j) {
          if (!r.ok) throw new Error(j.message || "the server refused it");
          return j;
        });
      });
  }
  function refused(e) {
    if (e && e.name === "NotAllowedError") return "The passkey prompt was closed or timed out. Try again.";
    if (e && e.name === "SecurityError") return "Passkeys need this page opened by name (such as localhost), not by an IP address.";
    var text = (e && e.message) || "That did not work.";
    return text.charAt(0).toUpperCase() + text.slice(1) + ".";
  }

  // Signing in: alone on the login page, or as the second step.
  var signIn = document.getElementById("passkey-sign-in");
  if (signIn && !onAddress) {
    var signInError = document.getElementById("passkey-error");
    signIn.hidden = false;
    signIn.addEventListener("click", function () {
      signIn.disabled = true;
      post(signIn.dataset.options).then(function (challenge) {
        return navigator.credentials.get({ publicKey: requestOptions(challenge.options.publicKey) }).then(function (cred) {
          var answer = { ceremony_id: challenge.ceremony_id, credential: asJson(cred) };
          // A second step may keep this device trusted, as its form would.
          var trust = signIn.dataset.trust && document.getElementById(signIn.dataset.trust);
          if (trust) answer.trust_device = trust.checked;
          return post(signIn.dataset.finish, answer);
        });
      }).then(function (done) {
        window.location.assign(done.to);
      }).catch(function (e) {
        signIn.disabled = false;
        tell(signInError, refused(e));
      });
    });
  }

  // Adding one: the server's options are on the page; the answer goes
  // back in the form.
  var finish = document.getElementById("passkey-finish");
  if (finish) {
    var createError = document.getElementById("passkey-create-error");
    var button = finish.querySelector("button");
    button.addEventListener("click", function (ev) {
      ev.preventDefault();
      button.disabled = true;
      var options = JSON.parse(finish.dataset.options);
      navigator.credentials.create({ publicKey: creationOptions(options.publicKey) }).then(function (cred) {
        finish.elements.credential.value = JSON.stringify(asJson(cred));
        finish.submit();
      }).catch(function (e) {
        button.disabled = false;
        tell(createError, refused(e));
      });
    });
  }

  // Confirming a sensitive act: a passkey instead of the password or code.
  document.querySelectorAll("input[data-passkey-step-up]").forEach(function (field) {
    var use = document.createElement("button");
    use.type = "button";
    use.className = "secondary small";
    use.textContent = "Confirm with a passkey instead";
    var form = field.form;
    var submit = form.querySelector("button[type=submit]");
    // Each form's button says what it confirms, for a screen reader's list.
    if (submit) use.setAttribute("aria-label", "Confirm with a passkey and " + submit.textContent.toLowerCase());
    field.insertAdjacentElement("afterend", use);
    var csrf = form.elements.csrf_token.value;
    use.addEventListener("click", function () {
      use.disabled = true;
      var headers = { "x-csrf-token": csrf };
      post(field.dataset.passkeyStepUp + "/options", {}, headers).then(function (challenge) {
        return navigator.credentials.get({ publicKey: requestOptions(challenge.options.publicKey) }).then(function (cred) {
          return post(field.dataset.passkeyStepUp, { ceremony_id: challenge.ceremony_id, credential: asJson(cred) }, headers);
        });
      }).then(function () {
        // Confirmed in this session: the form goes with no password.
        field.required = false;
        field.value = "";
        form.submit();
      }).catch(function (e) {
        use.disabled = false;
        field.setCustomValidity("");
        tell(form.querySelector(".passkey-refused"), refused(e));
      });
    });
  });
})();
