// Drill-down: /api/index/drilldown/{code} as a table; each child's code opens its own level, each count its months.

const escape = (text) => String(text ?? '—').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const share = (value) => (typeof value === 'number' ? `${(value * 100).toFixed(1)}%` : '—');
const whole = (value) => (typeof value === 'number' ? Math.round(value).toLocaleString('en-GB') : '—');

/** The table's HTML (exported for tests). */
export function drillHtml(found) {
  const rows = [found.area, ...found.children].map((r, i) => `<tr>
      <th scope="row">${i === 0 ? escape(r.code) : `<a href="?code=${encodeURIComponent(r.code)}">${escape(r.code)}</a>`}</th>
      <td><button type="button" class="months" data-code="${escape(r.code)}">${whole(r.crimes)}</button></td>
      <td>${escape(r.rate)} (${escape(r.rate_low)}–${escape(r.rate_high)})</td>
      <td>${escape(r.versus_parent ?? '')}</td>
      <td>${whole(r.harm_days)} (${whole(r.harm_low)}–${whole(r.harm_high)})</td>
      <td>${share(r.charged_share)}</td><td>${share(r.no_suspect_share)}</td><td>${share(r.find_rate)}</td>
      <td>${r.index ? `${escape(r.index.score)} (${escape(r.index.band)})` : '—'}</td></tr>`).join('');
  return `<table><caption>${escape(found.area.code)} (${escape(found.level)}), ${escape(found.from)} to ${escape(found.to)}</caption>
    <thead><tr><th scope="col">area</th><th scope="col">crimes</th><th scope="col">rate per 1,000 a year (95% interval)</th>
    <th scope="col">against the level above</th><th scope="col">harm days (range)</th><th scope="col">charged or summonsed</th>
    <th scope="col">no suspect</th><th scope="col">search find rate</th><th scope="col">index</th></tr></thead>
    <tbody>${rows}</tbody></table><ul>${found.notes.map((n) => `<li>${escape(n)}</li>`).join('')}</ul>`;
}

async function show(code) {
  const status = document.getElementById('drill-status');
  status.textContent = 'Loading…';
  const response = await fetch(`/api/index/drilldown/${encodeURIComponent(code)}`);
  const found = await response.json();
  if (!response.ok) {
    status.textContent = found.error?.message ?? response.statusText;
    return;
  }
  status.textContent = '';
  document.getElementById('drill-table').innerHTML = drillHtml(found);
  const byCode = Object.fromEntries([found.area, ...found.children].map((r) => [r.code, r]));
  document.querySelectorAll('button.months').forEach((button) => button.addEventListener('click', () => {
    const months = byCode[button.dataset.code].months;
    document.getElementById('drill-months').innerHTML = `<h2>${escape(button.dataset.code)} by month</h2><ul>`
      + Object.entries(months).map(([m, n]) => `<li>${escape(m)}: ${whole(n)}</li>`).join('') + '</ul>';
  }));
  document.body.dataset.state = 'loaded';
}

const code = new URLSearchParams(window.location.search).get('code');
document.getElementById('drill-form').addEventListener('submit', (event) => {
  event.preventDefault();
  window.location.search = `?code=${encodeURIComponent(document.getElementById('drill-code').value.trim())}`;
});
if (code) {
  document.getElementById('drill-code').value = code;
  show(code);
}
