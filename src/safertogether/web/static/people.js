// The signed-in person view: sign in, search with a stated purpose, a person's timeline, the review queue.
// Every answer is shown with textContent (never as HTML): names come from partners' records.
const $ = (id) => document.getElementById(id);
let csrf = null;

async function call(path, options = {}) {
  const headers = { "Accept": "application/json", ...(options.headers || {}) };
  if (options.body) headers["Content-Type"] = "application/json";
  if (csrf && options.method && options.method !== "GET") headers["X-CSRF-Token"] = csrf;
  const response = await fetch(path, { credentials: "same-origin", cache: "no-store", ...options, headers });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.error ? body.error.message : `error ${response.status}`);
  return body;
}

function element(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (className) node.className = className;
  return node;
}

function withPurpose(path, params = {}) {
  const query = new URLSearchParams({ purpose: $("purpose").value, ...params });
  for (const [key, value] of [...query.entries()]) if (!value) query.delete(key);
  return `${path}?${query}`;
}

function showSignedIn(user) {
  $("sign-in").hidden = true;
  $("work").hidden = false;
  $("who").textContent = `${user.name} (${user.agency}, ${user.role}, ${user.clearance})`;
  $("review").hidden = !["reviewer", "dpo"].includes(user.role);
  $("purpose").focus();
}

$("sign-in-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  $("sign-in-status").textContent = "";
  try {
    const body = await call("/api/people/sign-in", { method: "POST",
      body: JSON.stringify({ user_id: $("user-id").value, password: $("password").value }) });
    csrf = body.csrf_token;
    $("password").value = "";
    showSignedIn(body.user);
  } catch (error) {
    $("sign-in-status").textContent = error.message;
  }
});

$("sign-out").addEventListener("click", async () => {
  try { await call("/api/people/sign-out", { method: "POST" }); } finally { window.location.reload(); }
});

$("person-search").addEventListener("submit", async (event) => {
  event.preventDefault();
  const list = $("candidates");
  list.replaceChildren();
  $("search-status").textContent = "Searching…";
  try {
    const body = await call(withPurpose("/api/people/search",
      { name: $("name").value, dob: $("dob").value, address: $("address").value }));
    $("search-status").textContent = `${body.candidates.length} candidate(s) you may see`;
    for (const candidate of body.candidates) {
      const best = candidate.records[0] || {};
      const button = element("button", null, "result");
      button.type = "button";
      button.append(element("span", [best.forename, best.surname].filter(Boolean).join(" ") || "(name withheld)",
        "result-name"));
      button.append(element("span", `${candidate.person_id || "unlinked"} · ${candidate.records.length} record(s) · `
        + `match ${(candidate.match_probability * 100).toFixed(0)}%`, "result-detail"));
      button.addEventListener("click", () => openPerson(candidate.person_id));
      const item = element("li");
      item.append(button);
      list.append(item);
    }
  } catch (error) {
    $("search-status").textContent = error.message;
  }
});

function cell(row, value) {
  row.append(element("td", value === undefined ? "withheld" : (value ?? "–"), value === undefined ? "withheld" : ""));
}

async function openPerson(personId) {
  if (!personId) return;
  const section = $("profile");
  try {
    const body = await call(withPurpose(`/api/people/persons/${encodeURIComponent(personId)}`));
    section.hidden = false;
    $("profile-heading").textContent = `Person ${body.person_id}`;
    $("profile-note").textContent = body.break_glass
      ? "Break-glass view: flagged for review." : "Withheld fields are marked; records you may not see are not shown.";
    $("flags").replaceChildren(...body.flags.map((f) => element("li", `${f.flag}: ${f.because}`, "flag")));
    const rows = body.timeline.map((r) => {
      const row = element("tr");
      cell(row, r.recorded_on ?? r.incident_started_at);
      row.append(element("td", r.agency));
      cell(row, r.role);
      cell(row, "surname" in r ? [r.forename, r.surname].filter(Boolean).join(" ") : undefined);
      cell(row, r.date_of_birth);
      cell(row, r.address);
      cell(row, r.incident_kind);
      row.append(element("td", r.redacted.join(", ") || "–"));
      return row;
    });
    $("timeline").tBodies[0].replaceChildren(...rows);
    $("links").replaceChildren(...body.links.map((l) => element("li",
      `${l.record_l} – ${l.record_r}: ${l.decision ? `reviewer said ${l.decision}` : `match ${(l.match_probability * 100).toFixed(0)}%`}`
      + (l.agree.length ? `; agree on ${l.agree.join(", ")}` : "") + (l.differ.length ? `; differ on ${l.differ.join(", ")}` : ""))));
    section.focus();
  } catch (error) {
    $("search-status").textContent = error.message;
  }
}

async function decide(pair, decision, item) {
  try {
    await call(withPurpose("/api/people/review/decisions"), { method: "POST",
      body: JSON.stringify({ record_a: pair.record_l, record_b: pair.record_r, decision }) });
    item.replaceChildren(element("span", `${pair.record_l} – ${pair.record_r}: recorded as ${decision}`));
  } catch (error) {
    $("review-status").textContent = error.message;
  }
}

function side(record) {
  return [record.forename, record.surname, record.date_of_birth, record.address].map((v) => v ?? "withheld").join(", ");
}

$("load-review").addEventListener("click", async () => {
  $("review-status").textContent = "Loading…";
  try {
    const body = await call(withPurpose("/api/people/review"));
    $("review-status").textContent = `${body.pairs.length} pair(s)`;
    $("pairs").replaceChildren(...body.pairs.map((pair) => {
      const item = element("li");
      item.append(element("p", `${(pair.match_probability * 100).toFixed(0)}%: ${side(pair.left)} | ${side(pair.right)}`));
      for (const [label, decision] of [["Same person", "same"], ["Different people", "different"]]) {
        const button = element("button", label);
        button.type = "button";
        button.addEventListener("click", () => decide(pair, decision, item));
        item.append(button, " ");
      }
      return item;
    }));
  } catch (error) {
    $("review-status").textContent = error.message;
  }
});

call("/api/people/me").then((body) => { csrf = body.csrf_token; showSignedIn(body.user); }).catch(() => {});
