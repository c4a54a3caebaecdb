// Sign-in: the organization's API key is exchanged once for a session cookie and then forgotten.
import { h } from "../dom.js";
import { t } from "../i18n.js";

export function mountSignIn(api, onSession) {
  const input = h("input", { type: "password", name: "api_key", autocomplete: "off", required: true, id: "api-key" });
  const message = h("p", { class: "error", role: "alert" });
  const form = h(
    "form",
    { class: "signin", novalidate: true },
    h("h2", {}, t("signIn")),
    h("label", { for: "api-key" }, t("apiKey")),
    input,
    h("p", { class: "help" }, t("apiKeyHelp")),
    h("button", { type: "submit" }, t("signIn")),
    message,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    message.textContent = "";
    const key = input.value.trim();
    input.value = "";
    try {
      onSession(await api.signIn(key));
    } catch (error) {
      message.textContent = `${t("signInFailed")}: ${error.message}`;
    }
  });
  return form;
}
