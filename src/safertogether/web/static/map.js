// The choropleth map: LSOA boundaries from /api/map/{force}.geojson, coloured by crimes per 1,000 residents.
// No external tiles unless the server's meta.tile_url is set (then they sit underneath as a raster layer).

import * as maplibregl from '/vendor/maplibre-gl/maplibre-gl.mjs';
import { count, rate } from './format.js';

// ColorBrewer YlOrRd, 5 classes: sequential and colour-blind safe.
export const PALETTE = ['#ffffb2', '#fecc5c', '#fd8d3c', '#f03b20', '#bd0026'];
export const NO_DATA = '#bdbdbd';
const SOURCE = 'lsoa';

/** Quantile class breaks (the lower bounds of classes 2..n), rounded and strictly increasing. */
export function classBreaks(values, classes = PALETTE.length) {
  const sorted = values.filter((v) => typeof v === 'number' && Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return [];
  const breaks = [];
  for (let i = 1; i < classes; i += 1) {
    const raw = sorted[Math.floor((i * sorted.length) / classes)];
    const value = raw >= 10 ? Math.round(raw) : Math.round(raw * 10) / 10;
    if (value > sorted[0] && (breaks.length === 0 || value > breaks[breaks.length - 1])) breaks.push(value);
  }
  return breaks;
}

function fillColour(breaks) {
  const rateValue = ['get', 'rate_per_1000'];
  const step = breaks.length === 0
    ? PALETTE[2]
    : ['step', rateValue, PALETTE[0], ...breaks.flatMap((b, i) => [b, PALETTE[i + 1]])];
  return ['case', ['==', ['typeof', rateValue], 'number'], step, NO_DATA];
}

const breakText = (value) => (value >= 10 ? count(value) : rate(value));

/** Legend rows: [{colour, label}] for the breaks, plus "no data". */
export function legendRows(breaks) {
  const rows = [];
  if (breaks.length === 0) rows.push({ colour: PALETTE[2], label: 'All neighbourhoods' });
  else {
    rows.push({ colour: PALETTE[0], label: `under ${breakText(breaks[0])}` });
    for (let i = 0; i < breaks.length; i += 1) {
      const label = i + 1 < breaks.length ? `${breakText(breaks[i])} to under ${breakText(breaks[i + 1])}` : `${breakText(breaks[i])} or more`;
      rows.push({ colour: PALETTE[i + 1], label });
    }
  }
  rows.push({ colour: NO_DATA, label: 'no residents recorded' });
  return rows;
}

function baseStyle(tileUrl) {
  const style = {
    version: 8,
    sources: {},
    layers: [{ id: 'background', type: 'background', paint: { 'background-color': '#eef1f4' } }],
  };
  if (tileUrl) {
    style.sources.tiles = { type: 'raster', tiles: [tileUrl], tileSize: 256 };
    style.layers.push({ id: 'tiles', type: 'raster', source: 'tiles', paint: { 'raster-opacity': 0.9 } });
  }
  return style;
}

function addLayers(map) {
  map.addSource(SOURCE, {
    type: 'geojson',
    data: { type: 'FeatureCollection', features: [] },
    promoteId: 'code',
    attribution: 'Boundaries: Office for National Statistics',
  });
  map.addLayer({
    id: 'lsoa-fill',
    type: 'fill',
    source: SOURCE,
    paint: {
      'fill-color': NO_DATA,
      'fill-opacity': ['case', ['boolean', ['feature-state', 'hover'], false], 0.95, 0.75],
    },
  });
  map.addLayer({
    id: 'lsoa-outline',
    type: 'line',
    source: SOURCE,
    paint: {
      'line-color': '#4d4d4d',
      'line-width': ['case', ['boolean', ['feature-state', 'hover'], false], 2.5, 0.6],
    },
  });
  map.addLayer({
    id: 'lsoa-selected',
    type: 'line',
    source: SOURCE,
    filter: ['in', ['get', 'code'], ['literal', []]],
    paint: { 'line-color': '#08306b', 'line-width': 4 },
  });
}

function bounds(features) {
  const box = [Infinity, Infinity, -Infinity, -Infinity];
  const visit = (coords) => {
    if (typeof coords[0] === 'number') {
      box[0] = Math.min(box[0], coords[0]);
      box[1] = Math.min(box[1], coords[1]);
      box[2] = Math.max(box[2], coords[0]);
      box[3] = Math.max(box[3], coords[1]);
    } else coords.forEach(visit);
  };
  features.forEach((f) => f.geometry && visit(f.geometry.coordinates));
  return Number.isFinite(box[0]) ? [[box[0], box[1]], [box[2], box[3]]] : null;
}

/** Fewest residents a town must have for its name to show at a zoom level (more names as one zooms in). */
export function minPopulation(zoom) {
  if (zoom < 8) return 50000;
  if (zoom < 9) return 15000;
  if (zoom < 10) return 5000;
  if (zoom < 11.5) return 1500;
  return 0;
}

/**
 * Which labels to show at a zoom: local authorities, towns by size (more as one zooms in), and none that
 * would overlap one shown before it (authorities first, then bigger towns). `project` maps a label to
 * pixels; boxes are estimated from the length of the name.
 */
export function visibleLabels(labels, zoom, project) {
  const placed = [];
  const shown = new Set();
  const wanted = labels
    .filter((l) => l.kind === 'authority' || (l.population ?? 0) >= minPopulation(zoom))
    .sort((a, b) => (a.kind === b.kind ? (b.population ?? 0) - (a.population ?? 0) : a.kind === 'authority' ? -1 : 1));
  for (const label of wanted) {
    const { x, y } = project(label);
    const half = (label.name.length * 7.5) / 2 + 4;
    const box = [x - half, y - 10, x + half, y + 10];
    if (placed.some((p) => box[0] < p[2] && p[0] < box[2] && box[1] < p[3] && p[1] < box[3])) continue;
    placed.push(box);
    shown.add(label);
  }
  return shown;
}

/** The LSOA features that make up an area of any level, judged by the naming convention of LSOAs. */
function featuresOf(features, area) {
  if (!area) return [];
  if (area.level === 'force') return features;
  if (area.level === 'lsoa') return features.filter((f) => f.properties.code === area.code);
  const escaped = area.name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const pattern = area.level === 'msoa' ? new RegExp(`^${escaped}[A-Z]$`) : new RegExp(`^${escaped} \\d{3}[A-Z]$`);
  return features.filter((f) => pattern.test(f.properties.name));
}

export function createMap({ container, tileUrl, onSelect }) {
  let map;
  try {
    map = new maplibregl.Map({
      container,
      style: baseStyle(tileUrl),
      center: [-1.5, 52.8],
      zoom: 6,
      attributionControl: { compact: true },
      dragRotate: false,
      pitchWithRotate: false,
    });
  } catch (error) {
    container.classList.add('map-unavailable');
    container.textContent = 'The map cannot be shown in this browser (it needs WebGL). '
      + 'Use the search or the table of neighbourhoods instead.';
    return null;
  }
  map.addControl(new maplibregl.NavigationControl({ showCompass: false }), 'top-right');
  map.touchZoomRotate.disableRotation();
  window.saferMap = map;

  let features = [];
  let view = null;
  let labels = [];
  let hovered = null;
  let pendingSelection = null;
  const loaded = new Promise((resolve) => map.on('load', resolve));
  loaded.then(() => addLayers(map));
  const popup = new maplibregl.Popup({ closeButton: false, closeOnClick: false, className: 'map-tip' });

  function setHover(code) {
    if (hovered === code) return;
    if (hovered != null) map.setFeatureState({ source: SOURCE, id: hovered }, { hover: false });
    hovered = code;
    if (code != null) map.setFeatureState({ source: SOURCE, id: code }, { hover: true });
  }

  map.on('mousemove', 'lsoa-fill', (event) => {
    const feature = event.features?.[0];
    if (!feature) return;
    map.getCanvas().style.cursor = 'pointer';
    setHover(feature.properties.code);
    const p = feature.properties;
    popup.setLngLat(event.lngLat)
      .setHTML(`<strong></strong><br><span></span>`)
      .addTo(map);
    const tip = popup.getElement();
    tip.querySelector('strong').textContent = p.name;
    tip.querySelector('span').textContent = p.rate_per_1000 == null || p.rate_per_1000 === 'null'
      ? `${p.crimes} crimes` : `${p.crimes} crimes, ${rate(Number(p.rate_per_1000))} per 1,000`;
  });
  map.on('mouseleave', 'lsoa-fill', () => {
    map.getCanvas().style.cursor = '';
    setHover(null);
    popup.remove();
  });
  map.on('click', 'lsoa-fill', (event) => {
    const p = event.features?.[0]?.properties;
    if (p) onSelect({ code: p.code, name: p.name, level: 'lsoa' });
  });

  function placeLabels() {
    const shown = visibleLabels(labels.map((l) => l.label), map.getZoom(),
      (l) => map.project([l.longitude, l.latitude]));
    for (const { label, element } of labels) element.hidden = !shown.has(label);
  }

  function setLabels(next) {
    labels.forEach(({ marker }) => marker.remove());
    labels = (next ?? []).map((label) => {
      const element = document.createElement('div');
      element.className = `map-label map-label-${label.kind}`;
      element.textContent = label.name;
      const marker = new maplibregl.Marker({ element, anchor: 'center' })
        .setLngLat([label.longitude, label.latitude]).addTo(map);
      return { label, element, marker };
    });
    placeLabels();
  }
  map.on('moveend', placeLabels);

  function markReady(ready) {
    container.dataset.ready = String(ready);
    window.saferMapReady = ready;
  }

  function highlight(area, { fit = true } = {}) {
    pendingSelection = area;
    const chosen = featuresOf(features, area);
    map.getLayer('lsoa-selected')
      && map.setFilter('lsoa-selected', ['in', ['get', 'code'], ['literal', chosen.map((f) => f.properties.code)]]);
    // A force (or an area without boundaries) opens on where the force's crimes are, not on the
    // stray ones it recorded far away.
    const box = (area?.level !== 'force' && bounds(chosen)) || view || bounds(features);
    if (fit && box) map.fitBounds(box, { padding: 40, maxZoom: 13.5, duration: 0 });
  }

  async function setData(geojson, breaks) {
    markReady(false);
    await loaded;
    features = geojson.features;
    view = geojson.metadata?.view ?? null;
    setLabels(geojson.metadata?.labels);
    map.setPaintProperty('lsoa-fill', 'fill-color', fillColour(breaks));
    map.getSource(SOURCE).setData(geojson);
    highlight(pendingSelection, { fit: true });
    map.once('idle', () => markReady(true));
  }

  return { map, setData, select: highlight };
}
