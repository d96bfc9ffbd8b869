// Tollswitch console: keeps the dashboard and the calls page current (every 2.5 s, from
// /api/v1/live and /api/v1/calls with the session cookie), and asks before forms marked
// data-confirm are sent. The pages work without it; it only refreshes what they show.
(function () {
  "use strict";

  var PERIOD_MS = 2500;
  var meta = document.querySelector('meta[name="csrf-token"]');
  var csrf = meta ? meta.getAttribute("content") : "";

  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
    }
  });

  var refresh = document.querySelector("[data-refresh]");
  if (!refresh) {
    return;
  }

  function getJson(path) {
    return fetch(path, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) {
        if (r.status === 401) {
          window.location.href = "/login?next=" + encodeURIComponent(window.location.pathname);
          return null;
        }
        return r.ok ? r.json() : null;
      });
  }

  function setText(key, text) {
    var el = document.querySelector('[data-live="' + key + '"]');
    if (el && el.textContent !== text) {
      el.textContent = text;
    }
  }

  function num(v) {
    return typeof v === "number" ? v : 0;
  }

  function percent(bp) {
    return Math.floor(bp / 100) + "." + Math.floor((bp % 100) / 10) + " %";
  }

  function perSecond(count, secs) {
    var tenths = Math.floor((count * 10) / Math.max(secs, 1));
    return Math.floor(tenths / 10) + "." + (tenths % 10);
  }

  function clock(ms) {
    var s = Math.max(0, Math.floor(ms / 1000));
    var h = Math.floor(s / 3600);
    var m = Math.floor(s / 60) % 60;
    var sec = ("0" + (s % 60)).slice(-2);
    return h > 0 ? h + ":" + ("0" + m).slice(-2) + ":" + sec : m + ":" + sec;
  }

  function utc(ms) {
    return new Date(ms).toISOString().slice(0, 19).replace("T", " ");
  }

  function words(kind) {
    return String(kind || "").replace(/([a-z])([A-Z])/g, "$1 $2").toLowerCase();
  }

  function cell(content, className) {
    var td = document.createElement("td");
    if (className) {
      td.className = className;
    }
    if (content instanceof Node) {
      td.appendChild(content);
    } else {
      td.textContent = content == null ? "" : String(content);
    }
    return td;
  }

  function emptyRow(text, width) {
    var tr = document.createElement("tr");
    tr.className = "empty";
    var td = cell(text);
    td.colSpan = width;
    tr.appendChild(td);
    return tr;
  }

  function hangupForm(callId) {
    var form = document.createElement("form");
    form.className = "inline";
    form.method = "post";
    form.action = "/calls/hangup";
    form.setAttribute("data-confirm", "Hang this call up?");
    [["csrf", csrf], ["call_id", callId]].forEach(function (pair) {
      var input = document.createElement("input");
      input.type = "hidden";
      input.name = pair[0];
      input.value = pair[1];
      form.appendChild(input);
    });
    var button = document.createElement("button");
    button.type = "submit";
    button.className = "danger small";
    button.textContent = "Hang up";
    form.appendChild(button);
    return form;
  }

  function showLive(live) {
    var t = live.traffic || {};
    var cdr = live.cdr || {};
    setText("calls", String(num(live.calls)));
    setText("cps", perSecond(num(t.calls_started), num(t.rate_window_secs)));
    setText("asr", percent(num(t.asr_bp)));
    setText("acd", num(t.acd_secs) + " s");
    setText("cdr_pending", String(num(cdr.pending)));
    setText("cdr_stored", String(num(cdr.stored)));
    showGateways(live);
    var body = document.querySelector("tbody[data-lines]");
    if (!body) {
      return;
    }
    var rows = (live.lines || []).map(function (l) {
      var tr = document.createElement("tr");
      tr.appendChild(cell(words(l.kind)));
      tr.appendChild(cell(l.name));
      tr.appendChild(cell(num(l.calls), "num"));
      return tr;
    });
    body.replaceChildren.apply(body, rows.length ? rows : [emptyRow("No lines in use.", 3)]);
  }

  // The same marks as the served table (dashboard.rs); the thresholds come from the table.
  function gatewayRow(g, kind, lowAsrBp, lowAsrAttempts) {
    var calls = num(g.calls);
    var limit = typeof g.line_limit === "number" ? g.line_limit : null;
    var full = limit !== null && calls >= limit;
    var disabled = g.enabled === false;
    var lowAsr = num(g.attempts) >= lowAsrAttempts && num(g.asr_bp) < lowAsrBp;
    var tr = document.createElement("tr");
    tr.className = [[full, "full"], [disabled, "disabled"], [lowAsr, "low-asr"]]
      .filter(function (m) { return m[0]; })
      .map(function (m) { return m[1]; })
      .join(" ");
    var state = document.createElement("span");
    function badge(text, className) {
      var b = document.createElement("span");
      b.className = "badge " + className;
      b.textContent = text;
      state.appendChild(b);
    }
    if (disabled) {
      badge("disabled", "off");
    } else {
      state.appendChild(document.createTextNode("enabled"));
    }
    if (full) {
      state.appendChild(document.createTextNode(" "));
      badge("at line limit", "alert");
    }
    if (lowAsr) {
      state.appendChild(document.createTextNode(" "));
      badge("low ASR", "alert");
    }
    var none = document.createElement("span");
    none.className = "muted";
    none.textContent = "none";
    tr.appendChild(cell(g.name));
    tr.appendChild(cell(kind));
    tr.appendChild(cell(state));
    tr.appendChild(cell(calls, "num"));
    tr.appendChild(cell(limit === null ? none : limit, "num"));
    tr.appendChild(cell(num(g.attempts), "num"));
    // No attempts: no ASR; no answer: no ACD (not 0).
    tr.appendChild(cell(num(g.attempts) > 0 ? percent(num(g.asr_bp)) : "\u2013", "num asr"));
    tr.appendChild(cell(num(g.answered) > 0 ? num(g.acd_secs) + " s" : "\u2013", "num"));
    return tr;
  }

  function showGateways(live) {
    var body = document.querySelector("tbody[data-gateways]");
    if (!body) {
      return;
    }
    var lowAsrBp = Number(body.getAttribute("data-low-asr-bp")) || 0;
    var lowAsrAttempts = Number(body.getAttribute("data-low-asr-attempts")) || 0;
    var rows = (live.routing_gateways || []).map(function (g) {
      return gatewayRow(g, "routing", lowAsrBp, lowAsrAttempts);
    }).concat((live.mapping_gateways || []).map(function (g) {
      return gatewayRow(g, "mapping", lowAsrBp, lowAsrAttempts);
    }));
    body.replaceChildren.apply(body, rows.length ? rows : [emptyRow("No gateways provisioned.", 8)]);
  }

  function showCalls(calls) {
    var body = document.querySelector("tbody[data-calls]");
    if (!body) {
      return;
    }
    var full = body.getAttribute("data-calls") === "full";
    var hangup = body.hasAttribute("data-hangup");
    var now = Date.now();
    var rows = calls.map(function (c) {
      var tr = document.createElement("tr");
      if (full) {
        tr.appendChild(cell(c.call_id, "id"));
      }
      tr.appendChild(cell(c.caller));
      tr.appendChild(cell(c.callee));
      tr.appendChild(cell(c.account));
      if (full) {
        tr.appendChild(cell(c.mapping_gateway));
      }
      tr.appendChild(cell(c.routing_gateway));
      tr.appendChild(cell(c.state));
      if (full) {
        tr.appendChild(cell(c.start_ms ? utc(c.start_ms) : ""));
      }
      tr.appendChild(cell(clock(now - (c.connect_ms || c.start_ms || now)), "num"));
      if (hangup) {
        tr.appendChild(cell(hangupForm(c.call_id)));
      }
      return tr;
    });
    var width = full ? (hangup ? 10 : 9) : 6;
    body.replaceChildren.apply(body, rows.length ? rows : [emptyRow("No calls in progress.", width)]);
  }

  function tick() {
    if (document.hidden) {
      return;
    }
    if (document.querySelector("[data-live]")) {
      getJson("/api/v1/live").then(function (live) {
        if (live) {
          showLive(live);
        }
      }).catch(function () {});
    }
    if (document.querySelector("tbody[data-calls]")) {
      getJson("/api/v1/calls").then(function (calls) {
        if (Array.isArray(calls)) {
          showCalls(calls);
        }
      }).catch(function () {});
    }
  }

  window.setInterval(tick, PERIOD_MS);
}());
