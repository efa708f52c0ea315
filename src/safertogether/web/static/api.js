// Thin wrappers over the JSON API; every failure becomes an Error with the API's message.

async function getJson(url, signal) {
  let response;
  try {
    response = await fetch(url, { signal, headers: { Accept: 'application/json' } });
  } catch (error) {
    if (error.name === 'AbortError') throw error;
    throw new Error('The server could not be reached. Check your connection and try again.');
  }
  if (!response.ok) {
    let message = `The server answered ${response.status}.`;
    try {
      const body = await response.json();
      if (body?.error?.message) message = body.error.message;
    } catch { /* not JSON */ }
    throw new Error(message);
  }
  return response.json();
}

function periodQuery(period) {
  const params = new URLSearchParams();
  if (period?.from) params.set('from', period.from);
  if (period?.to) params.set('to', period.to);
  const text = params.toString();
  return text ? `?${text}` : '';
}

export const api = {
  meta: () => getJson('/api/meta'),
  search: (q, signal) => getJson(`/api/areas?${new URLSearchParams({ q, limit: '20' })}`, signal),
  summary: (code, period, signal) =>
    getJson(`/api/areas/${encodeURIComponent(code)}/summary${periodQuery(period)}`, signal),
  map: (force, period, signal) =>
    getJson(`/api/map/${encodeURIComponent(force)}.geojson${periodQuery(period)}`, signal),
  csvUrl: (code, period) => `/api/areas/${encodeURIComponent(code)}/crimes.csv${periodQuery(period)}`,
  downloadUrl: (code, period, format) => {
    const query = periodQuery(period);
    return `/api/areas/${encodeURIComponent(code)}/download${query || '?'}${query ? '&' : ''}format=${format}`;
  },
};
