// Progressive enhancement only: every page works without this file.
document.querySelectorAll("button.copy[data-copy]").forEach(function (button) {
  var target = document.getElementById(button.getAttribute("data-copy"));
  if (!target || !navigator.clipboard) { return; }
  button.hidden = false;
  button.addEventListener("click", function () {
    var lines = [];
    target.querySelectorAll("dt").forEach(function (dt) {
      var dd = dt.nextElementSibling;
      lines.push(dt.textContent + ": " + (dd ? dd.textContent : ""));
    });
    navigator.clipboard.writeText(lines.join("\n")).then(function () {
      button.textContent = "Copied";
    });
  });
});

// The push waiting page follows its request by server-sent events and moves on by itself (without
// JavaScript it reloads every few seconds instead).
document.querySelectorAll("[data-push-events]").forEach(function (status) {
  if (!window.EventSource) { return; }
  var source = new EventSource(status.getAttribute("data-push-events"));
  source.addEventListener("status", function (e) { status.textContent = e.data; });
  source.addEventListener("done", function () { source.close(); window.location.reload(); });
});

// Passkeys (WebAuthn). A form with data-passkey runs the browser's ceremony: it asks the server
// for options (data-passkey-options), calls navigator.credentials, and posts the answer as the
// form's "credential" field, so the server answers with an ordinary page. On the first sign-in
// page ("passwordless") it also offers the browser's passkey autofill where supported, but not
// on a page that shows an error (an answer refused must not be sent again by itself).
(function () {
  var forms = document.querySelectorAll("form[data-passkey]");
  if (!forms.length || !window.PublicKeyCredential || !navigator.credentials) { return; }

  function fromB64u(s) {
    var b = atob(s.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((s.length + 3) % 4));
    var out = new Uint8Array(b.length);
    for (var i = 0; i < b.length; i++) { out[i] = b.charCodeAt(i); }
    return out.buffer;
  }
  function toB64u(buf) {
    var bytes = new Uint8Array(buf), s = "";
    for (var i = 0; i < bytes.length; i++) { s += String.fromCharCode(bytes[i]); }
    return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  function withIds(list) {
    return (list || []).map(function (c) { return Object.assign({}, c, { id: fromB64u(c.id) }); });
  }
  function creationOptions(o) {
    var pk = Object.assign({}, o.publicKey);
    pk.challenge = fromB64u(pk.challenge);
    pk.user = Object.assign({}, pk.user, { id: fromB64u(pk.user.id) });
    pk.excludeCredentials = withIds(pk.excludeCredentials);
    return pk;
  }
  function requestOptions(o) {
    var pk = Object.assign({}, o.publicKey);
    pk.challenge = fromB64u(pk.challenge);
    pk.allowCredentials = withIds(pk.allowCredentials);
    return pk;
  }
  function answer(cred) {
    var r = cred.response, out = {
      id: cred.id, rawId: toB64u(cred.rawId), type: cred.type,
      extensions: cred.getClientExtensionResults ? cred.getClientExtensionResults() : {},
      response: { clientDataJSON: toB64u(r.clientDataJSON) }
    };
    if (r.attestationObject) {
      out.response.attestationObject = toB64u(r.attestationObject);
      if (r.getTransports) { out.response.transports = r.getTransports(); }
    } else {
      out.response.authenticatorData = toB64u(r.authenticatorData);
      out.response.signature = toB64u(r.signature);
      if (r.userHandle) { out.response.userHandle = toB64u(r.userHandle); }
    }
    return JSON.stringify(out);
  }

  forms.forEach(function (form) {
    var mode = form.getAttribute("data-passkey");
    var button = form.querySelector("[data-passkey-start]");
    var status = form.querySelector("[data-passkey-status]");
    var pending = null;
    function say(text) { if (status) { status.textContent = text; } }
    function options() {
      var body = new URLSearchParams();
      body.set("csrf", form.elements.csrf.value);
      return fetch(form.getAttribute("data-passkey-options"), {
        method: "POST", body: body, credentials: "same-origin",
        headers: { "Accept": "application/json" }
      }).then(function (res) {
        if (!res.ok) { throw new Error("options"); }
        return res.json();
      });
    }
    function send(cred) {
      form.elements.credential.value = answer(cred);
      say("Checking your passkey…");
      form.submit();
    }
    function failed(e) {
      if (e && e.name === "AbortError") { return; }
      if (button) { button.disabled = false; }
      if (e && e.name === "NotAllowedError") {
        say("The passkey request was cancelled or timed out. Try again, or choose another way below.");
      } else if (e && e.name === "InvalidStateError" && mode === "register") {
        say("This passkey or security key is already registered here. Use another one, or go back.");
      } else {
        say("Passkeys are not working in this browser right now. Choose another way below.");
      }
    }
    function run(conditional) {
      if (pending) { pending.abort(); }
      var control = new AbortController();
      pending = conditional ? control : null;
      return options().then(function (o) {
        if (mode === "register") {
          return navigator.credentials.create({ publicKey: creationOptions(o), signal: control.signal });
        }
        var request = { publicKey: requestOptions(o), signal: control.signal };
        if (conditional) { request.mediation = "conditional"; }
        return navigator.credentials.get(request);
      }).then(function (cred) { if (cred) { send(cred); } });
    }
    if (button) {
      button.hidden = false;
      button.addEventListener("click", function () {
        button.disabled = true;
        say(mode === "register" ? "Follow your browser's steps to create the passkey…" : "Follow your browser's steps to use your passkey…");
        run(false).catch(failed);
      });
    }
    if (form.hasAttribute("data-passkey-autofill") && PublicKeyCredential.isConditionalMediationAvailable) {
      PublicKeyCredential.isConditionalMediationAvailable().then(function (yes) {
        if (yes) { run(true).catch(failed); }
      });
    }
  });
})();
