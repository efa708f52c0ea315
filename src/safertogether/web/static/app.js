// The neighbourhood page: wires the search, the period and force selectors, the map and the details panel.

import { api } from './api.js';
import { renderSummary } from './details.js';
import { addMonths, count, el, missingDataText, monthName, monthRange, rate } from './format.js';
import { classBreaks, createMap, legendRows } from './map.js';
import { setupSearch } from './search.js';

const $ = (id) => document.getElementById(id);

const state = {
  meta: null,
  force: null,
  period: { from: null, to: null },
  area: null,
  mapView: null,
  summaryRequest: null,
  mapRequest: null,
};

function showAttribution(attribution) {
  const paragraph = $('attribution');
  paragraph.textContent = attribution.text;
  const link = $('licence-link');
  link.href = attribution.licence_url;
}

function fillSelect(select, options, selected) {
  select.replaceChildren(...options.map(([value, label]) => {
    const option = el('option', label, { value });
    option.selected = value === selected;
    return option;
  }));
}

function setupControls(meta, params) {
  const forces = meta.forces;
  state.force = forces.some((f) => f.force_id === params.get('force')) ? params.get('force') : forces[0]?.force_id;
  fillSelect($('force-select'), forces.map((f) => [f.force_id, f.name]), state.force);
  $('force-select').disabled = forces.length < 2;

  const first = forces.reduce((m, f) => (f.first_month < m ? f.first_month : m), meta.latest_month);
  const months = monthRange(first, meta.latest_month).reverse().map((m) => [m, monthName(m)]);
  const valid = (m) => months.some(([value]) => value === m);
  const to = valid(params.get('to')) ? params.get('to') : meta.latest_month;
  let from = valid(params.get('from')) ? params.get('from') : addMonths(to, -11);
  if (from < first) from = first;
  state.period = { from, to };
  fillSelect($('from-month'), months, from);
  fillSelect($('to-month'), months, to);
}

function readPeriod() {
  const from = $('from-month').value;
  const to = $('to-month').value;
  const error = $('period-error');
  if (from > to) {
    error.textContent = 'The first month must not be after the last month.';
    error.hidden = false;
    return null;
  }
  error.hidden = true;
  return { from, to };
}

function updateUrl() {
  const params = new URLSearchParams();
  if (state.area) params.set('area', state.area.code);
  params.set('force', state.force);
  params.set('from', state.period.from);
  params.set('to', state.period.to);
  history.replaceState(null, '', `?${params}`);
}

function showError(where, message) {
  const box = $(where);
  box.textContent = message;
  box.hidden = !message;
}

// ---- map -------------------------------------------------------------------------------------------

function renderLegend(breaks) {
  $('legend-items').replaceChildren(...legendRows(breaks).map(({ colour, label }) => {
    const item = el('li');
    item.append(el('span', null, { class: 'swatch', style: `background:${colour}`, 'aria-hidden': 'true' }), label);
    return item;
  }));
}

function renderAreaList(geojson) {
  const rows = [...geojson.features].map((f) => f.properties)
    .sort((a, b) => (b.rate_per_1000 ?? -1) - (a.rate_per_1000 ?? -1));
  $('area-list-body').replaceChildren(...rows.map((p) => {
    const tr = el('tr');
    const th = el('th', null, { scope: 'row' });
    const button = el('button', p.name, { type: 'button', class: 'link-button', 'data-code': p.code });
    button.addEventListener('click', () => selectArea({ code: p.code, name: p.name, level: 'lsoa' }, { focus: true }));
    th.append(button);
    tr.append(th, el('td', count(p.crimes), { class: 'num' }), el('td', count(p.population), { class: 'num' }),
      el('td', rate(p.rate_per_1000), { class: 'num' }));
    return tr;
  }));
  $('area-list-caption').textContent = `${rows.length} neighbourhoods, highest rate first`;
}

async function loadMap() {
  state.mapRequest?.abort();
  const request = new AbortController();
  state.mapRequest = request;
  try {
    const geojson = await api.map(state.force, state.period, request.signal);
    if (request.signal.aborted) return;
    renderAreaList(geojson);
    showError('map-note', missingDataText(geojson.metadata?.missing_data));
    const breaks = classBreaks(geojson.features.map((f) => f.properties.rate_per_1000));
    renderLegend(breaks);
    await state.mapView?.setData(geojson, breaks);
  } catch (error) {
    if (error.name !== 'AbortError') showError('details-error', `The map could not be loaded: ${error.message}`);
  }
}

// ---- area ------------------------------------------------------------------------------------------

async function selectArea(area, { focus = false } = {}) {
  state.summaryRequest?.abort();
  const request = new AbortController();
  state.summaryRequest = request;
  state.area = area;
  const main = $('main');
  main.setAttribute('aria-busy', 'true');
  main.dataset.state = 'loading';
  showError('details-error', '');
  try {
    const summary = await api.summary(area.code, state.period, request.signal);
    if (request.signal.aborted) return;
    const selected = { code: summary.area.code, name: summary.area.name, level: summary.area.level };
    state.area = selected;
    if (summary.area.force_id && summary.area.force_id !== state.force) {
      state.force = summary.area.force_id;
      $('force-select').value = state.force;
      state.mapView?.select(selected, { fit: false });
      loadMap();
    } else state.mapView?.select(selected);
    renderSummary(summary, state.period, (next) => selectArea(next, { focus: true }));
    main.dataset.area = summary.area.code;
    main.dataset.state = 'loaded';
    updateUrl();
    if (focus) main.focus();
  } catch (error) {
    if (error.name === 'AbortError') return;
    main.dataset.state = 'error';
    showError('details-error', `This area could not be loaded: ${error.message}`);
  } finally {
    if (state.summaryRequest === request) main.setAttribute('aria-busy', 'false');
  }
}

// ---- start -----------------------------------------------------------------------------------------

function wireControls() {
  $('period-form').addEventListener('change', (event) => {
    if (event.target.id === 'force-select') {
      state.force = event.target.value;
      const force = state.meta.forces.find((f) => f.force_id === state.force);
      loadMap();
      selectArea({ code: state.force, name: force?.name ?? state.force, level: 'force' });
      return;
    }
    const period = readPeriod();
    if (!period) return;
    state.period = period;
    loadMap();
    if (state.area) selectArea(state.area);
    else updateUrl();
  });
  $('period-form').addEventListener('submit', (event) => event.preventDefault());
  setupSearch({
    form: $('search-form'),
    input: $('search-input'),
    list: $('search-results'),
    status: $('search-status'),
    onChoose: (result) => selectArea(result, { focus: true }),
  });
}

async function start() {
  let meta;
  try {
    meta = await api.meta();
  } catch (error) {
    showError('details-error', `The page could not start: ${error.message}`);
    return;
  }
  state.meta = meta;
  showAttribution(meta.attribution);
  if (!meta.forces.length) {
    showError('details-error', 'No crime data is loaded yet.');
    return;
  }
  const params = new URLSearchParams(location.search);
  setupControls(meta, params);
  wireControls();
  state.mapView = createMap({
    container: $('map'),
    tileUrl: meta.tile_url,
    onSelect: (area) => selectArea(area),
  });
  const mapLoaded = loadMap();
  if (params.get('area')) await selectArea({ code: params.get('area') });
  await mapLoaded;
}

start();
