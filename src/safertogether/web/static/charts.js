// Chart.js charts (global `Chart` from /vendor/chart.js/chart.umd.min.js): monthly trend and rates by type.

import { shortMonth } from './format.js';

const INK = '#1f2933';
const AREA = '#08519c';
const FORCE = '#d95f0e';
const charts = {};

function available() {
  return typeof window.Chart === 'function';
}

function draw(canvas, config) {
  if (!available()) return null;
  charts[canvas.id]?.destroy();
  window.Chart.defaults.color = INK;
  window.Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
  charts[canvas.id] = new window.Chart(canvas, config);
  return charts[canvas.id];
}

export function drawTrend(canvas, monthly) {
  return draw(canvas, {
    type: 'line',
    data: {
      labels: monthly.map((m) => shortMonth(m.month)),
      datasets: [{
        label: 'Recorded crimes',
        data: monthly.map((m) => m.crimes),
        borderColor: AREA,
        backgroundColor: 'rgba(8, 81, 156, 0.12)',
        fill: true,
        tension: 0,
        pointRadius: monthly.length > 36 ? 0 : 3,
        spanGaps: false,
      }],
    },
    options: {
      responsive: true,
      maintainAspectRatio: false,
      animation: false,
      interaction: { mode: 'index', intersect: false },
      plugins: { legend: { display: false } },
      scales: {
        y: { beginAtZero: true, title: { display: true, text: 'Crimes per month' }, ticks: { precision: 0 } },
        x: { ticks: { maxRotation: 0, autoSkip: true, maxTicksLimit: 8 } },
      },
    },
  });
}

export function drawCategories(canvas, categories) {
  return draw(canvas, {
    type: 'bar',
    data: {
      labels: categories.map((c) => c.crime_type),
      datasets: [
        { label: 'This area', data: categories.map((c) => c.rate_per_1000), backgroundColor: AREA },
        { label: 'Force average', data: categories.map((c) => c.force_rate_per_1000), backgroundColor: FORCE },
      ],
    },
    options: {
      indexAxis: 'y',
      responsive: true,
      maintainAspectRatio: false,
      animation: false,
      plugins: { legend: { position: 'bottom' } },
      scales: { x: { beginAtZero: true, title: { display: true, text: 'Crimes per 1,000 residents' } } },
    },
  });
}
