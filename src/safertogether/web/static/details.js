// Renders an area summary (GET /api/areas/{code}/summary) into the details panel.

import { api } from './api.js';
import { drawCategories, drawTrend } from './charts.js';
import { LEVEL_NAMES, count, el, missingDataText, monthName, pValueWords, percent, rate } from './format.js';

const $ = (id) => document.getElementById(id);

function areaLink(area, onArea) {
  const link = el('a', area.name, { href: `?area=${encodeURIComponent(area.code)}`, 'data-code': area.code });
  link.addEventListener('click', (event) => {
    event.preventDefault();
    onArea({ code: area.code, name: area.name, level: area.level });
  });
  return link;
}

function renderBreadcrumb(area, onArea) {
  const items = [...area.parents].reverse().map((parent) => {
    const item = el('li');
    item.append(areaLink(parent, onArea));
    item.append(el('span', ` (${LEVEL_NAMES[parent.level] ?? parent.level})`, { class: 'crumb-level' }));
    return item;
  });
  items.push(el('li', area.name, { 'aria-current': 'page' }));
  $('breadcrumb').replaceChildren(...items);
}

function renderHeader(summary) {
  const { area, period } = summary;
  $('area-name').textContent = area.name;
  const level = LEVEL_NAMES[area.level] ?? area.level_name ?? area.level;
  $('area-level').textContent = area.code === area.name ? level : `${level} · ${area.code}`;
  const months = period.months === 1 ? '1 month' : `${period.months} months`;
  $('period-text').textContent = `${monthName(period.from)} to ${monthName(period.to)} (${months})`;
  const loaded = summary.monthly.filter((m) => m.crimes != null).length;
  const note = $('coverage-note');
  note.hidden = loaded === summary.monthly.length;
  const missing = $('missing-note');
  missing.textContent = missingDataText(summary.missing_data);
  missing.hidden = !missing.textContent;
  note.textContent = `Only ${loaded} of the ${summary.monthly.length} months in this period are loaded, `
    + 'so the counts and rates cover those months only. Choose another period to see more.';
}

function renderHeadline(summary) {
  $('stat-crimes').textContent = count(summary.crimes);
  $('stat-rate').textContent = rate(summary.rate_per_1000);
  $('stat-population').textContent = summary.population
    ? `among ${count(summary.population)} residents (2011 Census)` : 'no resident population recorded';
  const comparison = summary.force_comparison;
  if (comparison) {
    $('stat-verdict').textContent = capitalise(comparison.verdict ?? 'not compared');
    const ratio = comparison.ratio_to_force == null ? '' : ` (${rate(comparison.ratio_to_force)} times the force rate)`;
    $('stat-force').textContent = comparison.force_rate_per_1000 == null
      ? 'The force average needs resident population.'
      : `Force average: ${rate(comparison.force_rate_per_1000)} per 1,000${ratio}`;
  } else {
    $('stat-verdict').textContent = 'Not compared';
    $('stat-force').textContent = summary.area.level === 'force'
      ? 'This is the whole force area.' : 'No comparison is available for this area.';
  }
  renderTrendWords(summary.trend);
}

function capitalise(text) {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function renderTrendWords(trend) {
  if (!trend?.available) {
    $('stat-trend').textContent = 'Not available';
    $('stat-trend-detail').textContent = trend?.note ?? 'The previous period is not loaded, so no trend can be given.';
    return;
  }
  const previous = trend.previous ? `the previous ${trend.previous.months} months` : 'the previous period';
  let headline;
  if (trend.change_pct == null) headline = trend.direction === 'up' ? 'Up' : 'No change';
  else if (trend.change_pct === 0) headline = 'No change';
  else headline = `${trend.change_pct > 0 ? 'Up' : 'Down'} ${rate(Math.abs(trend.change_pct))}%`;
  $('stat-trend').textContent = `${headline} on ${previous}`;
  const verdict = trend.significant ? 'The change is' : 'The difference';
  $('stat-trend-detail').textContent = `${count(trend.current_crimes)} crimes against ${count(trend.previous_crimes)}. `
    + `${verdict} ${pValueWords(trend.p_value)}.`;
}

function cells(values, header) {
  const tr = el('tr');
  values.forEach((value, i) => {
    const cell = i === 0 && header ? el('th', value, { scope: 'row' }) : el('td', value, i ? { class: 'num' } : {});
    tr.append(cell);
  });
  return tr;
}

function fillTable(body, rows, columns, emptyText) {
  if (rows.length === 0) {
    const tr = el('tr');
    tr.append(el('td', emptyText, { colspan: String(columns), class: 'empty-row' }));
    body.replaceChildren(tr);
    return;
  }
  body.replaceChildren(...rows.map((values) => cells(values, true)));
}

function renderTables(summary) {
  fillTable($('monthly-body'), summary.monthly.map((m) => [monthName(m.month),
    m.crimes == null ? 'not loaded' : count(m.crimes)]), 2, 'No months in the period.');
  fillTable($('category-body'), summary.categories.map((c) => [c.crime_type, count(c.crimes), percent(c.share),
    rate(c.rate_per_1000), rate(c.force_rate_per_1000)]), 5, 'No crimes recorded in this period.');
  fillTable($('outcome-body'), summary.outcomes.map((o) => [o.outcome, count(o.crimes), percent(o.share)]), 3,
    'No outcomes recorded in this period.');
}

const STOP_GROUPS = [
  ['by_legislation', 'By legislation', 'Legislation'],
  ['by_outcome', 'By outcome', 'Outcome'],
  ['by_self_defined_ethnicity', 'By self-defined ethnicity', 'Self-defined ethnicity'],
];

function renderStops(stops) {
  $('stops-total').textContent = stops.stops
    ? `${count(stops.stops)} stops and searches recorded in this area and period.`
    : 'No stops and searches are recorded in this area and period.';
  $('stops-note').textContent = stops.note ?? '';
  const tables = stops.stops ? STOP_GROUPS.map(([key, caption, column]) => stopTable(stops[key] ?? [], caption, column)) : [];
  $('stops-tables').replaceChildren(...tables);
}

function stopTable(rows, caption, column) {
  const wrap = el('div', null, { class: 'table-wrap' });
  const table = el('table');
  table.append(el('caption', caption));
  const head = el('thead');
  const tr = el('tr');
  [column, 'Stops', 'Share'].forEach((text, i) => tr.append(el('th', text, { scope: 'col', ...(i ? { class: 'num' } : {}) })));
  head.append(tr);
  const body = el('tbody');
  fillTable(body, rows.map((r) => [r.value ?? 'not recorded', count(r.stops), percent(r.share)]), 3, 'None recorded.');
  table.append(head, body);
  wrap.append(table);
  return wrap;
}

/** Show a summary; `onArea` is called when a breadcrumb link is followed. */
export function renderSummary(summary, period, onArea) {
  renderHeader(summary);
  renderBreadcrumb(summary.area, onArea);
  renderHeadline(summary);
  renderTables(summary);
  renderStops(summary.stop_and_search);
  $('csv-link').href = api.csvUrl(summary.area.code, period);
  for (const link of $('gis-links').querySelectorAll('a[data-format]')) {
    link.href = api.downloadUrl(summary.area.code, period, link.dataset.format);
  }
  $('details-empty').hidden = true;
  $('details-body').hidden = false;
  drawTrend($('trend-chart'), summary.monthly);
  drawCategories($('category-chart'), summary.categories);
}
