/* Passkeys and security keys (WebAuthn) on the sign-in and set-up pages. The server puts the
   ceremony's options (JSON, binary fields in base64url) on the form as data-webauthn-options;
   this script asks the browser's authenticator, writes its answer (JSON, base64url) into the
   form's hidden "credential" field and submits the form. No inline script (CSP script-src
   'self'); without JavaScript the code form on the same page still works. */
(function () {
  "use strict";

  function toBytes(text) {
    var base64 = text.replace(/-/g, "+").replace(/_/g, "/");
    while (base64.length % 4) {
      base64 += "=";
    }
    var raw = atob(base64);
    var bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) {
      bytes[i] = raw.charCodeAt(i);
    }
    return bytes.buffer;
  }

  function toText(buffer) {
    var bytes = new Uint8Array(buffer);
    var raw = "";
    for (var i = 0; i < bytes.length; i++) {
      raw += String.fromCharCode(bytes[i]);
    }
    return btoa(raw).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function creationOptions(options) {
    options.challenge = toBytes(options.challenge);
    options.user.id = toBytes(options.user.id);
    (options.excludeCredentials || []).forEach(function (item) {
      item.id = toBytes(item.id);
    });
    return { publicKey: options };
  }

  function requestOptions(options) {
    options.challenge = toBytes(options.challenge);
    (options.allowCredentials || []).forEach(function (item) {
      item.id = toBytes(item.id);
    });
    return { publicKey: options };
  }

  function answer(credential) {
    var response = credential.response;
    var out = {
      id: credential.id,
      rawId: toText(credential.rawId),
      type: credential.type,
      clientExtensionResults: credential.getClientExtensionResults(),
      response: { clientDataJSON: toText(response.clientDataJSON) }
    };
    if (response.attestationObject) {
      out.response.attestationObject = toText(response.attestationObject);
      if (response.getTransports) {
        out.response.transports = response.getTransports();
      }
    } else {
      out.response.authenticatorData = toText(response.authenticatorData);
      out.response.signature = toText(response.signature);
      if (response.userHandle) {
        out.response.userHandle = toText(response.userHandle);
      }
    }
    if (credential.authenticatorAttachment) {
      out.authenticatorAttachment = credential.authenticatorAttachment;
    }
    return JSON.stringify(out);
  }

  function setup(form) {
    var kind = form.getAttribute("data-webauthn");
    var button = form.querySelector("[data-webauthn-start]");
    var error = form.querySelector("[data-webauthn-error]");
    var field = form.querySelector("input[name='credential']");
    if (!button || !field) {
      return;
    }
    if (!window.PublicKeyCredential) {
      button.disabled = true;
      return;
    }
    button.addEventListener("click", function () {
      var options = JSON.parse(form.getAttribute("data-webauthn-options"));
      var call = kind === "create"
        ? navigator.credentials.create(creationOptions(options))
        : navigator.credentials.get(requestOptions(options));
      button.disabled = true;
      call.then(function (credential) {
        field.value = answer(credential);
        form.submit();
      }).catch(function () {
        button.disabled = false;
        if (error) {
          error.hidden = false;
        }
      });
    });
  }

  document.querySelectorAll("form[data-webauthn]").forEach(setup);
}());
