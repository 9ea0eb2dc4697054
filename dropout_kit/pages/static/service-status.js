// The state of grading on submission at the top of every formgrader list page
// (GET <base>/dropout-kit/api/on-submission, dropout_kit/formgrader/service_state.py).
// Values are set as text, never as markup.
(function () {
  var STATES = {
    running: "실행 중 · running",
    paused: "일시 정지 · paused",
    stopped: "멈춤 · not running"
  };

  function element(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  function when(seconds) {  // UTC, labelled, as nbgrader's own lists show times
    return seconds ? new Date(seconds * 1000).toISOString().replace("T", " ").slice(0, 19) + " UTC" : "";
  }

  function banner(service) {
    var state = service.pausing ? "pausing" : service.state;
    var box = element("div", "kit-service " + state + (service.last_error ? " error" : ""));
    box.id = "kit-service-" + service.assignment;
    var title = element("div");
    title.appendChild(element("span", "kit-state",
      "제출 즉시 채점 (grading on submission) · " + service.assignment + ": " +
      (service.pausing ? "정지하는 중 · pausing" : STATES[service.state])));
    var facts = [];
    if (service.state !== "stopped") {
      facts.push("대기 queue " + (service.queue || 0));
      facts.push("채점 graded " + (service.graded || 0));
    }
    facts.push("마감 deadline " + (service.deadline || "없음 · none"));
    facts.push("최근 오류 last error: " + (service.last_error || "없음 · none"));
    title.appendChild(element("span", "kit-facts", "— " + facts.join(" · ")));
    box.appendChild(title);
    if (service.state === "running" && !service.after_deadline) {
      var note = element("p", "kit-note",
        "이 과제의 Autograde 는 먼저 pause 하세요 (Autograde here is refused until you pause): ");
      note.appendChild(element("code", null, "dropout-kit on-submission pause --assignment " + service.assignment));
      box.appendChild(note);
    }
    if (service.refused && service.refused.length) {
      box.appendChild(element("p", "kit-note",
        "거부된 제출 refused submissions: " + service.refused_total + " (가장 최근 " + service.refused.length + "개)"));
      var table = element("table");
      var head = element("tr");
      ["학생 student", "사유 reason", "시각 when", "폴더 folder"].forEach(function (h) { head.appendChild(element("th", null, h)); });
      table.appendChild(head);
      service.refused.slice().reverse().forEach(function (r) {
        var row = element("tr");
        [r.student || "?", r.reason || "", when(r.at), r.folder || ""].forEach(function (v) { row.appendChild(element("td", null, v)); });
        table.appendChild(row);
      });
      box.appendChild(table);
    }
    return box;
  }

  function show(services) {
    var main = document.querySelector(".col-md-10");
    if (!main || !services.length) return;
    var holder = document.getElementById("kit-services") || element("div");
    holder.id = "kit-services";
    holder.textContent = "";
    services.forEach(function (service) { holder.appendChild(banner(service)); });
    main.insertBefore(holder, main.firstChild);
  }

  function xsrfToken() {
    var found = document.cookie.match(/(?:^|;\s*)_xsrf=([^;]*)/);
    return found ? decodeURIComponent(found[1]) : "";
  }

  function load() {
    // JupyterHub's servers refuse a cookie-authenticated API request without the token.
    fetch(window.base_url + "/dropout-kit/api/on-submission",
          { credentials: "same-origin", headers: { "X-XSRFToken": xsrfToken() } })
      .then(function (response) { return response.ok ? response.json() : []; })
      .then(show)
      .catch(function () {});
  }

  document.addEventListener("DOMContentLoaded", function () {
    load();
    setInterval(load, 10000);
  });
})();
