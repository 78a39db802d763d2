// The sqldistill page: ask a question, see the SQL and its rows, send a corrected SQL.
// Values are always inserted as text (never as HTML): rows come from a database and may hold anything.
"use strict";

const $ = (id) => document.getElementById(id);
let lastQuestion = "";
let lastModelSql = "";

function headers() {
  const h = { "Content-Type": "application/json" };
  const key = $("api-key").value.trim();
  if (key) h.Authorization = "Bearer " + key;
  return h;
}

function showError(message) {
  const box = $("error");
  box.textContent = message;
  box.hidden = !message;
}

function setStatus(text) {
  $("status").textContent = text;
}

function describeFailure(status, body) {
  if (body && body.error && body.error.message) {
    return body.error.message + (body.error.hint ? "\n" + body.error.hint : "");
  }
  if (body && Array.isArray(body.detail) && body.detail.length) {
    return "The request was not valid: " + body.detail.map((d) => d.msg).join("; ");
  }
  if (status === 401) return "The server needs an API key: open Settings and enter it.";
  return "The server answered with status " + status + ".";
}

async function post(path, payload) {
  let resp;
  try {
    resp = await fetch(path, { method: "POST", headers: headers(), body: JSON.stringify(payload) });
  } catch (err) {
    throw new Error("Could not reach the server (" + err.message + ").");
  }
  let body = null;
  try { body = await resp.json(); } catch (_) { body = null; }
  if (!resp.ok) throw new Error(describeFailure(resp.status, body));
  return body;
}

function renderRows(columns, rows, truncated, total) {
  const table = $("result");
  const head = table.tHead;
  const body = table.tBodies[0];
  head.replaceChildren();
  body.replaceChildren();
  const tr = document.createElement("tr");
  for (const name of columns) {
    const th = document.createElement("th");
    th.scope = "col";
    th.textContent = name;
    tr.appendChild(th);
  }
  head.appendChild(tr);
  for (const row of rows) {
    const r = document.createElement("tr");
    for (const value of row) {
      const td = document.createElement("td");
      if (value === null) { td.textContent = "NULL"; td.className = "null"; }
      else td.textContent = String(value);
      r.appendChild(td);
    }
    body.appendChild(r);
  }
  const n = total === undefined ? rows.length : total;
  $("result-caption").textContent = n + (n === 1 ? " row" : " rows") + (truncated ? " (more exist; only these are shown)" : "");
}

function busy(button, on) {
  button.disabled = on;
  button.setAttribute("aria-busy", on ? "true" : "false");
}

async function ask(event) {
  event.preventDefault();
  const question = $("question").value.trim();
  if (!question) { showError("Type a question first."); $("question").focus(); return; }
  showError("");
  setStatus("Writing SQL…");
  busy($("ask"), true);
  try {
    const maxRows = parseInt($("max-rows").value, 10);
    const data = await post("/v1/sql", { question, execute: true, max_rows: Number.isFinite(maxRows) ? maxRows : 100 });
    lastQuestion = question;
    lastModelSql = data.sql;
    $("answer").hidden = false;
    $("sql").value = data.sql;
    $("latency").textContent = "answered in " + data.latency_ms.toFixed(0) + " ms";
    renderRows(data.columns, data.rows, data.truncated);
    if (data.error) {
      showError("The SQL could not run: " + data.error.message + "\nCorrect it below and send the correction.");
      setStatus("");
    } else {
      setStatus("SQL written and run: " + data.row_count + (data.row_count === 1 ? " row." : " rows."));
    }
  } catch (err) {
    showError(err.message);
    setStatus("");
  } finally {
    busy($("ask"), false);
  }
}

async function sendCorrection(event) {
  event.preventDefault();
  const sql = $("sql").value.trim();
  const question = lastQuestion || $("question").value.trim();
  if (!question || !sql) { showError("Ask a question and write the SQL first."); return; }
  showError("");
  setStatus("Checking the correction…");
  busy($("send-correction"), true);
  try {
    const data = await post("/v1/feedback", { question, sql, model_sql: lastModelSql || null });
    renderRows(data.columns, data.rows, data.truncated, data.row_count);
    setStatus(data.stored ? "Correction stored. Thank you." : "This correction was already stored.");
  } catch (err) {
    showError(err.message);
    setStatus("");
  } finally {
    busy($("send-correction"), false);
  }
}

document.addEventListener("DOMContentLoaded", () => {
  $("ask-form").addEventListener("submit", ask);
  $("correct-form").addEventListener("submit", sendCorrection);
  const saved = sessionStorage.getItem("sqldistill-key");
  if (saved) $("api-key").value = saved;
  $("api-key").addEventListener("change", () => sessionStorage.setItem("sqldistill-key", $("api-key").value));
  $("question").focus();
});
