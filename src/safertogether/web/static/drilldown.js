// Drill-down: /api/index/drilldown/{code} as a table; each child's name opens its own level, each count its months.

const escape = (text) => String(text ?? '—').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const share = (value) => (typeof value === 'number' ? `${(value * 100).toFixed(1)}%` : '—');
const whole = (value) => (typeof value === 'number' ? Math.round(value).toLocaleString('en-GB') : '—');
const LEVELS = { force: 'force', lad: 'local authority', msoa: 'MSOA', lsoa: 'neighbourhood (LSOA)' };
const VERDICTS = { higher: 'higher than chance allows', lower: 'lower than chance allows', within: 'within chance' };

/** An area's name with its code beside it (the code alone where the warehouse has no name). */
const named = (r) => (r.name && r.name !== r.code
  ? `${escape(r.name)} <span class="crumb-level">${escape(r.code)}</span>` : escape(r.code));

/** The table's HTML (exported for tests). */
export function drillHtml(found) {
  const rows = [found.area, ...found.children].map((r, i) => `<tr${i === 0 ? ' class="parent-row"' : ''}>
      <th scope="row">${i === 0 || !r.code ? named(r) : `<a href="?code=${encodeURIComponent(r.code)}">${named(r)}</a>`}</th>
      <td class="num"><button type="button" class="months link-button" data-code="${escape(r.code)}"
        aria-label="${escape(r.name ?? r.code)}: crimes by month">${whole(r.crimes)}</button></td>
      <td class="num">${escape(r.rate)} <span class="crumb-level">(${escape(r.rate_low)}–${escape(r.rate_high)})</span></td>
      <td>${escape(VERDICTS[r.versus_parent] ?? r.versus_parent ?? '')}</td>
      <td class="num">${whole(r.harm_days)} <span class="crumb-level">(${whole(r.harm_low)}–${whole(r.harm_high)})</span></td>
      <td class="num">${share(r.charged_share)}</td><td class="num">${share(r.no_suspect_share)}</td>
      <td class="num">${share(r.find_rate)}</td>
      <td>${r.index ? `${escape(r.index.score)} (${escape(r.index.band)})` : '—'}</td></tr>`).join('');
  const up = found.parent ? `<p><a href="?code=${encodeURIComponent(found.parent.code)}">Up to ${named(found.parent)}</a></p>` : '';
  return `${up}<div class="table-wrap"><table><caption>${found.area.name ? escape(found.area.name) : escape(found.area.code)}
    (${escape(LEVELS[found.level] ?? found.level)}) and the areas in it, ${escape(found.from)} to ${escape(found.to)}</caption>
    <thead><tr><th scope="col">area</th><th scope="col" class="num">crimes</th>
    <th scope="col" class="num">rate per 1,000 residents a year (95% interval)</th>
    <th scope="col">against the level above</th><th scope="col" class="num">harm days (range the categories allow)</th>
    <th scope="col" class="num">charged or summonsed</th><th scope="col" class="num">no suspect identified</th>
    <th scope="col" class="num">stop-and-search find rate</th><th scope="col">safety index</th></tr></thead>
    <tbody>${rows}</tbody></table></div><ul>${found.notes.map((n) => `<li>${escape(n)}</li>`).join('')}</ul>`;
}

/** An area's crimes by month as bars, each with its number (a list, so it reads the same without the bars). */
export function monthsHtml(row) {
  const months = Object.entries(row.months);
  const most = Math.max(1, ...months.map(([, n]) => n ?? 0));
  return `<h2>${escape(row.name ?? row.code)}: crimes by month</h2><ul class="month-bars">`
    + months.map(([m, n]) => `<li><span class="month-label">${escape(m)}</span>
      <meter class="month-bar" min="0" max="${most}" value="${n ?? 0}"></meter> ${whole(n)}</li>`).join('') + '</ul>';
}

async function show(code) {
  const status = document.getElementById('drill-status');
  status.textContent = 'Loading…';
  const response = await fetch(`/api/index/drilldown/${encodeURIComponent(code)}`);
  const found = await response.json();
  if (!response.ok) {
    status.textContent = found.error?.message ?? response.statusText;
    status.classList.add('error');
    return;
  }
  status.textContent = '';
  document.getElementById('drill-table').innerHTML = drillHtml(found);
  const byCode = Object.fromEntries([found.area, ...found.children].map((r) => [r.code, r]));
  document.querySelectorAll('button.months').forEach((button) => button.addEventListener('click', () => {
    const months = document.getElementById('drill-months');
    months.innerHTML = monthsHtml(byCode[button.dataset.code]);
    months.querySelector('h2').setAttribute('tabindex', '-1');
    months.querySelector('h2').focus();
  }));
  document.body.dataset.state = 'loaded';
}

/** The first force with data, when the page is opened without a code. */
async function firstForce() {
  const response = await fetch('/api/meta');
  const meta = response.ok ? await response.json() : {};
  return meta.forces?.[0]?.force_id ?? null;
}

const input = document.getElementById('drill-code');
document.getElementById('drill-form').addEventListener('submit', (event) => {
  event.preventDefault();
  window.location.search = `?code=${encodeURIComponent(input.value.trim())}`;
});
const code = new URLSearchParams(window.location.search).get('code') ?? await firstForce();
if (code) {
  input.value = code;
  show(code);
}
