// The widget loader a practice pastes into its own site (web/README.md has the
// snippet). It only adds an iframe on the CareChat origin: the keys, the plaintext and
// the WebAssembly CSP stay inside that frame, never in the host page. It runs as a
// classic script so that document.currentScript names its own tag.

(() => {
  const script = document.currentScript;
  if (!(script instanceof HTMLScriptElement)) {
    return;
  }
  const practice = script.dataset.practice ?? "";
  // The CareChat origin is wherever this script came from, not the host page.
  const url = new URL("/widget", script.src);
  if (practice) {
    url.searchParams.set("practice", practice);
  }
  const frame = document.createElement("iframe");
  frame.src = url.href;
  frame.title = "CareChat";
  frame.className = "carechat-widget";
  frame.width = "400";
  frame.height = "600";
  // Never wider than the page holding it: on a phone the frame shrinks to fit, border
  // included, instead of making the practice's page scroll sideways. Set through the
  // CSSOM, which a host page's CSP does not block as it would a style attribute.
  frame.style.maxWidth = "100%";
  frame.style.boxSizing = "border-box";
  frame.setAttribute("data-practice", practice);
  script.after(frame);
})();
