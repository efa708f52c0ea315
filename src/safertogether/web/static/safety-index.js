// The index view: areas coloured by band (from /api/index/map.geojson; ?level=lsoa|msoa|lad|borough picks the
// level, London boroughs drawn from their LSOAs) and, on a click, the area's index card
// (/api/index/areas/{code}): score and band, the objective and subjective halves side by side, the themes, the
// trend, what drives the score, the rank range, similar areas and the notes that qualify it.

import * as maplibregl from '/vendor/maplibre-gl/maplibre-gl.mjs';

const NO_DATA = '#bdbdbd';

const escape = (text) => String(text ?? '—').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const number = (value) => (typeof value === 'number' ? value.toFixed(1) : '—');

/** The card's HTML (exported for tests). */
export function cardHtml(card) {
  const themes = card.themes.map((t) => `<tr><th scope="row">${escape(t.theme.replace('_', ' '))} (${escape(t.part)})</th>`
    + `<td>${number(t.score)}</td></tr>`).join('');
  const drivers = card.drivers.slice(0, 3).map((d) => `<li>${escape(d.says)}</li>`).join('');
  const trend = card.trend.map((t) => `${escape(t.period)}: ${number(t.score)}`).join(', ');
  const similar = card.similar.map((s) => `<li>${escape(s.area_name)}: ${number(s.score)} (${escape(s.band)})</li>`).join('');
  const notes = card.notes.map((n) => `<li>${escape(n)}</li>`).join('');
  return `<h2>${escape(card.area_name)} <small>${escape(card.area)}, ${escape(card.period)}</small></h2>
    <p class="score"><strong>${number(card.score)}</strong>: ${escape(card.band_label)}</p>
    <table><caption>Both halves, always side by side</caption>
      <tr><th scope="row">Objective (recorded crime)</th><td>${number(card.objective)}</td></tr>
      <tr><th scope="row">Subjective (residents' survey)</th><td>${card.subjective === null ? 'no survey here' : number(card.subjective)}</td></tr>
    </table>
    <p>Rank ${escape(card.rank)} of ${escape(card.ranked)}; between ${escape(card.rank_low)} and ${escape(card.rank_high)} under other reasonable ways of building the index.</p>
    <h3>What drives it</h3><ul>${drivers}</ul>
    <table><caption>Themes</caption>${themes}</table>
    <p>Trend: ${trend}</p>
    <h3>Similar areas</h3><ul>${similar}</ul>
    ${notes ? `<h3>Read with care</h3><ul>${notes}</ul>` : ''}
    <p><a href="/drilldown?code=${encodeURIComponent(card.area)}">Drill down</a> ·
      <a href="/api/index/methodology">How the index is made</a></p>`;
}

async function getJson(url) {
  const response = await fetch(url);
  const body = await response.json();
  if (!response.ok) throw new Error(body.error?.message ?? response.statusText);
  return body;
}

function legend(bands) {
  document.getElementById('index-legend').innerHTML = bands.map((b) => `<li><span class="swatch" style="background:${b.colour}"></span>`
    + `${escape(b.name)}: ${escape(b.label)}</li>`).join('');
}

const LEVEL_NAMES = { lsoa: 'neighbourhoods', msoa: 'MSOAs', lad: 'local authorities', borough: 'London boroughs' };

async function start() {
  const status = document.getElementById('index-status');
  const level = new URLSearchParams(window.location.search).get('level');
  let data;
  try {
    data = await getJson(`/api/index/map.geojson${level in LEVEL_NAMES ? `?level=${level}` : ''}`);
  } catch (error) {
    status.textContent = `No index to show: ${error.message}`;
    return;
  }
  legend(data.metadata.bands);
  const shown = data.metadata.level;
  status.textContent = `${data.features.length} ${LEVEL_NAMES[shown] ?? shown}, ${data.metadata.period}`
    + (data.metadata.objective_only ? ' (objective only: no residents\' survey for these areas)' : '')
    + (data.metadata.disclosure_policy !== 'exact' ? ` (figures under the ${data.metadata.disclosure_policy} disclosure policy)` : '');
  document.body.dataset.level = shown;
  const map = new maplibregl.Map({
    container: 'index-map',
    style: { version: 8, sources: {}, layers: [{ id: 'background', type: 'background', paint: { 'background-color': '#eef1f4' } }] },
    attributionControl: { customAttribution: 'Boundaries: Office for National Statistics' },
  });
  window.indexMap = map;
  map.on('load', () => {
    map.addSource('index', { type: 'geojson', data });
    map.addLayer({ id: 'index-fill', type: 'fill', source: 'index', paint: { 'fill-color': ['coalesce', ['get', 'colour'], NO_DATA], 'fill-opacity': 0.8 } });
    map.addLayer({ id: 'index-outline', type: 'line', source: 'index', paint: { 'line-color': '#4d4d4d', 'line-width': 0.4 } });
    const box = [Infinity, Infinity, -Infinity, -Infinity];
    const visit = (c) => (typeof c[0] === 'number' ? (box[0] = Math.min(box[0], c[0]), box[1] = Math.min(box[1], c[1]),
      box[2] = Math.max(box[2], c[0]), box[3] = Math.max(box[3], c[1])) : c.forEach(visit));
    data.features.forEach((f) => f.geometry && visit(f.geometry.coordinates));
    if (Number.isFinite(box[0])) map.fitBounds([[box[0], box[1]], [box[2], box[3]]], { padding: 20, duration: 0 });
    map.on('click', 'index-fill', async (event) => {
      const code = event.features[0].properties.area;
      const card = document.getElementById('index-card');
      try {
        card.innerHTML = cardHtml(await getJson(`/api/index/areas/${encodeURIComponent(code)}?level=${encodeURIComponent(shown)}`));
      } catch (error) {
        card.textContent = error.message;
      }
    });
  });
}

start();
