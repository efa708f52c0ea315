// Blue-light coverage for commissioners: the force's LSOAs coloured by nearest-station travel time against a
// standard's target (/api/plan/{force}/coverage.geojson), today's estate judged on every standard
// (/api/plan/{force}/coverage), and scenarios compared with today (/api/plan/{force}/scenarios).
// Every figure on the map is also in a table, so nothing depends on seeing colours or using a mouse.

import * as maplibregl from '/vendor/maplibre-gl/maplibre-gl.mjs';

const escape = (text) => String(text ?? '—').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const value = (v) => (typeof v === 'number' ? v.toLocaleString('en-GB', { maximumFractionDigits: 1 }) : '—');
const target = (t) => Object.entries(t).map(([grade, minutes]) => (grade === 'all' ? `${minutes}` : `${grade} ${minutes}`)).join(', ');
const unit = (row) => (row.statistic === 'within' ? '%' : ' min');

async function getJson(url) {
  const response = await fetch(url);
  const body = await response.json();
  if (!response.ok) throw new Error(body.error?.message ?? response.statusText);
  return body;
}

/** Today's estate: one row per standard (exported for tests). */
export function todayHtml(coverage) {
  const rows = Object.entries(coverage.services).flatMap(([service, found]) => (found.standards
    ? found.standards.map((s) => `<tr><th scope="row">${escape(s.label)}</th><td>${escape(service)} (${found.stations} stations)</td>`
      + `<td class="num">${escape(target(s.target))} min</td><td class="num">${value(s.value_residents)}${unit(s)}</td>`
      + `<td class="num">${value(s.residents_within_pct)}%</td><td>${s.met ? 'met' : '<strong>not met</strong>'}</td></tr>`)
    : [`<tr><th scope="row">${escape(service)}</th><td colspan="5" class="empty-row">${escape(found.note)}</td></tr>`]));
  return `<table><caption>${escape(coverage.lsoas)} neighbourhoods, ${value(coverage.residents)} residents; travel times from the ${escape(coverage.travel_times.source)}</caption>
    <thead><tr><th scope="col">Standard</th><th scope="col">Service</th><th scope="col" class="num">Target</th>
    <th scope="col" class="num">Residents' figure</th><th scope="col" class="num">Residents within target</th><th scope="col">Standard</th></tr></thead>
    <tbody>${rows.join('')}</tbody></table>`;
}

/** Scenarios side by side: a row per standard, a column per scenario (exported for tests). */
export function scenariosHtml(result) {
  const head = result.scenarios.map((s) => `<th scope="col" class="num">${escape(s.scenario)}<br><small>${s.sites} sites, ${escape(s.method)}</small></th>`).join('');
  const rows = result.scenarios[0].standards.map((standard, i) => {
    const cells = result.scenarios.map((s) => {
      const row = s.standards[i];
      const change = row.change_vs_today === undefined ? '' : ` (${row.change_vs_today > 0 ? '+' : ''}${value(row.change_vs_today)})`;
      return `<td class="num">${value(row.value_residents)}${unit(row)}${escape(change)}; ${value(row.residents_within_pct)}% within; ${row.met ? 'met' : '<strong>not met</strong>'}</td>`;
    }).join('');
    return `<tr><th scope="row">${escape(standard.label)} (target ${escape(target(standard.target))} min)</th>${cells}</tr>`;
  }).join('');
  return `<table><caption>${escape(result.service)}: each standard under each scenario, change against today in brackets</caption>
    <thead><tr><th scope="col">Standard</th>${head}</tr></thead><tbody>${rows}</tbody></table>`;
}

let map;

function showMap(data) {
  document.getElementById('plan-legend').innerHTML = data.metadata.bands.map((b) => `<li><span class="swatch" style="background:${b.colour}"></span>${escape(b.label)}</li>`).join('');
  const box = [Infinity, Infinity, -Infinity, -Infinity];
  const visit = (c) => (typeof c[0] === 'number' ? (box[0] = Math.min(box[0], c[0]), box[1] = Math.min(box[1], c[1]),
    box[2] = Math.max(box[2], c[0]), box[3] = Math.max(box[3], c[1])) : c.forEach(visit));
  data.features.forEach((f) => f.geometry && visit(f.geometry.coordinates));
  const fit = () => Number.isFinite(box[0]) && map.fitBounds([[box[0], box[1]], [box[2], box[3]]], { padding: 20, duration: 0 });
  if (map) {
    map.getSource('coverage').setData(data);
    fit();
    return;
  }
  map = new maplibregl.Map({
    container: 'plan-map',
    style: { version: 8, sources: {}, layers: [{ id: 'background', type: 'background', paint: { 'background-color': '#eef1f4' } }] },
    attributionControl: { customAttribution: 'Boundaries: Office for National Statistics' },
  });
  window.planMap = map;
  map.on('load', () => {
    map.addSource('coverage', { type: 'geojson', data });
    map.addLayer({ id: 'coverage-fill', type: 'fill', source: 'coverage', paint: { 'fill-color': ['get', 'colour'], 'fill-opacity': 0.85 } });
    map.addLayer({ id: 'coverage-outline', type: 'line', source: 'coverage', paint: { 'line-color': '#4d4d4d', 'line-width': 0.3 } });
    fit();
    map.on('click', 'coverage-fill', (event) => {
      const p = event.features[0].properties;
      new maplibregl.Popup({ className: 'map-tip' }).setLngLat(event.lngLat)
        .setHTML(`${escape(p.lsoa)}: ${value(p.minutes)} min (target ${value(p.target)}); ${escape(p.band)}`).addTo(map);
    });
  });
}

function fillStations(stations, service) {
  const options = stations.filter((s) => s.service === service)
    .map((s) => `<option value="${escape(s.station_id)}">${escape(s.name)}</option>`).join('');
  for (const id of ['merge-first', 'merge-second']) {
    document.getElementById(id).innerHTML = `<option value="">(none)</option>${options}`;
  }
}

async function show(force, standardId) {
  const status = document.getElementById('plan-status');
  status.textContent = `Loading ${force}…`;
  document.body.dataset.state = 'loading';
  try {
    const coverage = await getJson(`/api/plan/${encodeURIComponent(force)}/coverage`);
    const select = document.getElementById('plan-standard');
    const served = coverage.standards.filter((s) => coverage.services[s.service]?.standards);
    select.innerHTML = served.map((s) => `<option value="${escape(s.id)}">${escape(s.label)}</option>`).join('');
    const chosen = served.some((s) => s.id === standardId) ? standardId : served[0]?.id;
    if (chosen) select.value = chosen;
    document.getElementById('plan-today').innerHTML = todayHtml(coverage);
    document.getElementById('plan-times').textContent = `Travel times: ${coverage.travel_times.summary}.`;
    const stations = await getJson(`/api/plan/${encodeURIComponent(force)}/stations`);
    window.planStations = stations.stations;
    fillStations(stations.stations, document.getElementById('scenario-service').value);
    if (chosen) showMap(await getJson(`/api/plan/${encodeURIComponent(force)}/coverage.geojson?standard=${encodeURIComponent(chosen)}`));
    status.textContent = `${coverage.lsoas} neighbourhoods of ${force}, ${stations.stations.length} stations`;
    document.getElementById('plan-printed').textContent = `Force area ${force}: ${coverage.lsoas} neighbourhoods, `
      + `${stations.stations.length} stations; figures of ${new Date().toISOString().slice(0, 10)}.`;
    history.replaceState(null, '', `?force=${encodeURIComponent(force)}${chosen ? `&standard=${encodeURIComponent(chosen)}` : ''}`);
    document.body.dataset.state = 'loaded';
  } catch (error) {
    status.innerHTML = `<span class="error">${escape(error.message)}</span>`;
    document.body.dataset.state = 'error';
  }
}

async function compare(event) {
  event.preventDefault();
  const form = new FormData(event.target);
  const force = document.getElementById('plan-force').value;
  const query = new URLSearchParams({ service: form.get('service') });
  form.getAll('share').forEach((s) => query.append('share', s));
  if (form.get('merge-first') && form.get('merge-second')) query.append('merge', `${form.get('merge-first')},${form.get('merge-second')}`);
  if (form.get('choose')) query.append('choose', form.get('choose'));
  const status = document.getElementById('scenario-status');
  status.textContent = 'Comparing…';
  try {
    const result = await getJson(`/api/plan/${encodeURIComponent(force)}/scenarios?${query}`);
    document.getElementById('scenario-table').innerHTML = scenariosHtml(result);
    status.textContent = `${result.scenarios.length} scenarios compared`;
  } catch (error) {
    status.innerHTML = `<span class="error">${escape(error.message)}</span>`;
  }
}

function start() {
  const params = new URLSearchParams(window.location.search);
  const force = params.get('force') || 'leicestershire';
  document.getElementById('plan-force').value = force;
  document.getElementById('plan-form').addEventListener('submit', (event) => {
    event.preventDefault();
    show(document.getElementById('plan-force').value.trim(), document.getElementById('plan-standard').value);
  });
  document.getElementById('plan-standard').addEventListener('change', (event) => show(document.getElementById('plan-force').value.trim(), event.target.value));
  document.getElementById('scenario-service').addEventListener('change', (event) => fillStations(window.planStations || [], event.target.value));
  document.getElementById('scenario-form').addEventListener('submit', compare);
  document.getElementById('plan-print').addEventListener('click', () => window.print());
  show(force, params.get('standard'));
}

start();
