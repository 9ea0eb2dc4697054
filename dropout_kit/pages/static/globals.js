// The globals an nbgrader page used to set in an inline script, from this script's
// data-* attributes (dropout_kit/pages/scriptless.py); and the one click listener that runs
// the handlers nbgrader's pages wrote as onclick="…" (registered by /dropout-kit/inline/*.js).
(function () {
  var data = document.currentScript.dataset;
  Object.keys(data).forEach(function (name) { window[name] = data[name]; });
  if (window.kitClickListener) return;
  window.kitClickListener = function (event) {
    var element = event.target.closest ? event.target.closest("[data-kit-onclick]") : null;
    var handlers = window.kitHandlers || {};
    if (element && handlers[element.dataset.kitOnclick]) {
      handlers[element.dataset.kitOnclick].call(element, event);
    }
  };
  document.addEventListener("click", window.kitClickListener);
})();
