// The area search: a labelled search box whose results are a list of buttons
// (reachable with Tab or the arrow keys, chosen with Enter or Space).

import { api } from './api.js';
import { LEVEL_NAMES, el } from './format.js';

const DELAY_MS = 250;

export function setupSearch({ form, input, list, status, onChoose }) {
  let timer = null;
  let controller = null;

  async function run(text) {
    const query = text.trim();
    controller?.abort();
    if (!query) {
      hide();
      status.textContent = '';
      return;
    }
    controller = new AbortController();
    try {
      const answer = await api.search(query, controller.signal);
      show(answer.results, query);
    } catch (error) {
      if (error.name === 'AbortError') return;
      hide();
      status.textContent = `Search failed: ${error.message}`;
    }
  }

  function show(results, query) {
    list.replaceChildren(...results.map(resultItem));
    list.hidden = results.length === 0;
    status.textContent = results.length === 0
      ? `No areas match “${query}”. Try a street name, a town or a neighbourhood code.`
      : `${results.length} ${results.length === 1 ? 'area matches' : 'areas match'} “${query}”.`;
  }

  function hide() {
    list.hidden = true;
    list.replaceChildren();
  }

  function resultItem(result) {
    const button = el('button', null, { type: 'button', 'data-code': result.code, class: 'result' });
    button.append(el('span', result.name, { class: 'result-name' }));
    const detail = [LEVEL_NAMES[result.level] ?? result.level];
    if (result.matched) detail.push(`contains ${result.matched}`);
    button.append(el('span', detail.join(' · '), { class: 'result-detail' }));
    button.addEventListener('click', () => choose(result));
    const item = el('li');
    item.append(button);
    return item;
  }

  function choose(result) {
    input.value = result.name;
    hide();
    status.textContent = `Showing ${result.name}.`;
    onChoose(result);
  }

  function buttons() {
    return [...list.querySelectorAll('button')];
  }

  function moveFocus(step) {
    const all = buttons();
    if (all.length === 0) return;
    const index = all.indexOf(document.activeElement);
    const next = index + step;
    if (next < 0) input.focus();
    else all[Math.min(next, all.length - 1)].focus();
  }

  input.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(() => run(input.value), DELAY_MS);
  });
  input.addEventListener('keydown', (event) => {
    if (event.key === 'ArrowDown') {
      event.preventDefault();
      moveFocus(1);
    } else if (event.key === 'Escape') {
      hide();
    }
  });
  list.addEventListener('keydown', (event) => {
    if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
      event.preventDefault();
      moveFocus(event.key === 'ArrowDown' ? 1 : -1);
    } else if (event.key === 'Escape') {
      hide();
      input.focus();
    }
  });
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearTimeout(timer);
    await run(input.value);
    buttons()[0]?.focus();
  });
}
