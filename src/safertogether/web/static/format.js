// Number, month and wording helpers shared by the page's modules.

const whole = new Intl.NumberFormat('en-GB');
const oneDecimal = new Intl.NumberFormat('en-GB', { maximumFractionDigits: 1, minimumFractionDigits: 1 });
const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September',
  'October', 'November', 'December'];

export const LEVEL_NAMES = {
  lsoa: 'Neighbourhood (LSOA)',
  msoa: 'Larger neighbourhood (MSOA)',
  lad: 'Local authority',
  force: 'Police force area',
};

export function count(value) {
  return value == null ? '—' : whole.format(value);
}

export function rate(value) {
  return value == null ? 'not available' : oneDecimal.format(value);
}

export function percent(share) {
  return share == null ? '—' : `${oneDecimal.format(share * 100)}%`;
}

/** "2021-03" -> "March 2021" */
export function monthName(month) {
  const [year, number] = month.split('-');
  return `${MONTHS[Number(number) - 1]} ${year}`;
}

/** "2021-03" -> "Mar 2021" */
export function shortMonth(month) {
  const [year, number] = month.split('-');
  return `${MONTHS[Number(number) - 1].slice(0, 3)} ${year}`;
}

/** Add n (possibly negative) months to "YYYY-MM". */
export function addMonths(month, n) {
  const [year, number] = month.split('-').map(Number);
  const total = year * 12 + (number - 1) + n;
  return `${Math.floor(total / 12)}-${String((total % 12) + 1).padStart(2, '0')}`;
}

/** Every month from first to last inclusive, as "YYYY-MM". */
export function monthRange(first, last) {
  const months = [];
  for (let month = first; month <= last; month = addMonths(month, 1)) months.push(month);
  return months;
}

/** A p-value in plain words. */
export function pValueWords(p) {
  if (p == null) return '';
  const shown = p < 0.001 ? 'less than 0.001' : p.toPrecision(2);
  if (p < 0.01) return `very unlikely to be chance alone (p-value ${shown})`;
  if (p < 0.05) return `unlikely to be chance alone (p-value ${shown})`;
  return `could well be ordinary month-to-month variation (p-value ${shown})`;
}

/** Create an element with text and attributes. */
export function el(tag, text, attributes = {}) {
  const node = document.createElement(tag);
  if (text != null) node.textContent = text;
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  return node;
}

/** One sentence per reference import an answer lacks: what it would add and the command that adds it. */
export function missingDataText(missing) {
  return (missing ?? []).map((m) => `Not imported yet: ${m.data}, needed for ${m.needed_for}. `
    + `To add it, run: ${m.command}`).join('\n');
}
