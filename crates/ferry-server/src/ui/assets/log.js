// Ferry's log view: follows a job's log over Server-Sent Events and renders each line as DOM
// nodes (never as HTML): ANSI SGR colours become spans with classes, `##[group]` … `##[endgroup]`
// a collapsible <details>, `##[error]`/`##[warning]` lines are marked, and a search box filters
// and highlights lines. Used by app.js on /ui/runs/{id}.
'use strict';

const FerryLog = (() => {
  const COLOURS = ['black', 'red', 'green', 'yellow', 'blue', 'magenta', 'cyan', 'white'];
  const COMMANDS = ['error', 'warning', 'notice', 'debug'];

  function el(tag, className) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    return node;
  }

  // The 256-colour palette beyond the first 16: a 6×6×6 cube, then 24 greys.
  function rgb256(n) {
    if (n >= 232) {
      const grey = 8 + 10 * (n - 232);
      return `rgb(${grey},${grey},${grey})`;
    }
    const levels = [0, 95, 135, 175, 215, 255];
    const i = n - 16;
    return `rgb(${levels[Math.floor(i / 36)]},${levels[Math.floor(i / 6) % 6]},${levels[i % 6]})`;
  }

  // A colour from `38;5;n`, `38;2;r;g;b` (or 48 for backgrounds); returns [colour, used].
  function extended(codes, i, layer) {
    if (codes[i + 1] === 5 && codes.length > i + 2) {
      const n = codes[i + 2];
      const colour = n < 16 ? { cls: `ansi-${layer}${n < 8 ? '' : 'bright-'}${COLOURS[n % 8]}` } : { rgb: rgb256(n) };
      return [colour, 2];
    }
    if (codes[i + 1] === 2 && codes.length > i + 4) {
      const [r, g, b] = codes.slice(i + 2, i + 5).map((v) => Math.min(255, v));
      return [{ rgb: `rgb(${r},${g},${b})` }, 4];
    }
    return [null, 0];
  }

  function applySgr(state, params) {
    const codes = params === '' ? [0] : params.split(';').map((code) => Number.parseInt(code || '0', 10));
    for (let i = 0; i < codes.length; i++) {
      const code = codes[i];
      if (code === 0) Object.assign(state, { fg: null, bg: null, bold: false, dim: false, italic: false, underline: false });
      else if (code === 1) state.bold = true;
      else if (code === 2) state.dim = true;
      else if (code === 3) state.italic = true;
      else if (code === 4) state.underline = true;
      else if (code === 22) state.bold = state.dim = false;
      else if (code === 23) state.italic = false;
      else if (code === 24) state.underline = false;
      else if (code >= 30 && code <= 37) state.fg = { cls: `ansi-${COLOURS[code - 30]}` };
      else if (code >= 90 && code <= 97) state.fg = { cls: `ansi-bright-${COLOURS[code - 90]}` };
      else if (code === 39) state.fg = null;
      else if (code >= 40 && code <= 47) state.bg = { cls: `ansi-bg-${COLOURS[code - 40]}` };
      else if (code >= 100 && code <= 107) state.bg = { cls: `ansi-bg-bright-${COLOURS[code - 100]}` };
      else if (code === 49) state.bg = null;
      else if (code === 38 || code === 48) {
        const [colour, used] = extended(codes, i, code === 38 ? '' : 'bg-');
        if (code === 38) state.fg = colour;
        else state.bg = colour;
        i += used;
      }
    }
  }

  // Appends `text` to `parent` as text nodes and styled spans.
  function renderAnsi(text, parent) {
    const state = { fg: null, bg: null, bold: false, dim: false, italic: false, underline: false };
    const emit = (part) => {
      if (!part) return;
      const classes = [];
      if (state.fg?.cls) classes.push(state.fg.cls);
      if (state.bg?.cls) classes.push(state.bg.cls);
      for (const flag of ['bold', 'dim', 'italic', 'underline']) if (state[flag]) classes.push(`ansi-${flag}`);
      if (!classes.length && !state.fg?.rgb && !state.bg?.rgb) {
        parent.append(document.createTextNode(part));
        return;
      }
      const span = el('span', classes.join(' '));
      if (state.fg?.rgb) span.style.color = state.fg.rgb;
      if (state.bg?.rgb) span.style.backgroundColor = state.bg.rgb;
      span.textContent = part;
      parent.append(span);
    };
    // CSI sequences; only `m` (SGR) changes anything, the others (cursor moves, erase) are dropped.
    const csi = /\u001b\[([0-9;?]*)([@-~])/g;
    let last = 0;
    for (const match of text.matchAll(csi)) {
      emit(text.slice(last, match.index));
      if (match[2] === 'm') applySgr(state, match[1].replace('?', ''));
      last = match.index + match[0].length;
    }
    emit(text.slice(last).replace(/\u001b/g, ''));
  }

  // One step's part of the log: where its lines go and how far it has been read.
  class StepLog {
    constructor(section) {
      this.section = section;
      this.lines = section.querySelector('.lines');
      this.group = null;
      this.seq = 0;
      this.n = 0;
    }

    append(raw) {
      if (raw.startsWith('##[group]')) {
        const details = el('details', 'group');
        const summary = el('summary');
        renderAnsi(raw.slice('##[group]'.length), summary);
        this.group = el('div', 'group-lines');
        details.append(summary, this.group);
        this.lines.append(details);
        return null;
      }
      if (raw.startsWith('##[endgroup]')) {
        this.group = null;
        return null;
      }
      let kind = '';
      let text = raw;
      for (const command of COMMANDS) {
        if (raw.startsWith(`##[${command}]`)) {
          kind = command;
          text = raw.slice(command.length + 4);
        }
      }
      this.n += 1;
      const line = el('div', kind ? `line ${kind}` : 'line');
      const number = el('span', 'ln');
      number.textContent = String(this.n);
      const body = el('span', 'text');
      renderAnsi(text, body);
      line.append(number, body);
      (this.group || this.lines).append(line);
      return line;
    }
  }

  // Follows job `jobId` of run `runId` into `panel` (the #job section).
  function follow(panel, runId, jobId, ensureStep) {
    const steps = new Map();
    const stepLog = (idx) => {
      if (!steps.has(idx)) steps.set(idx, new StepLog(ensureStep(idx)));
      return steps.get(idx);
    };
    const search = panel.querySelector('#log-search');
    const count = panel.querySelector('#log-search-count');
    const applySearch = () => filter(panel, search.value, count);
    search?.addEventListener('input', applySearch);
    const source = new EventSource(`/api/v1/runs/${runId}/logs?job=${jobId}&follow=true`);
    source.addEventListener('chunk', (event) => {
      const chunk = JSON.parse(event.data);
      const log = stepLog(chunk.step_idx);
      // A reconnected stream starts again from the first chunk: skip what is shown.
      if (chunk.seq <= log.seq) return;
      log.seq = chunk.seq;
      for (const line of chunk.lines) log.append(line);
      if (search?.value) applySearch();
    });
    source.addEventListener('end', () => {
      source.close();
      panel.dataset.logEnded = 'true';
    });
    return source;
  }

  // Shows only the lines containing `query` (case-insensitive) and highlights it in them.
  function filter(panel, query, count) {
    const needle = query.trim().toLowerCase();
    const ranges = [];
    let n = 0;
    for (const line of panel.querySelectorAll('.line')) {
      const text = line.querySelector('.text');
      const matches = !needle || text.textContent.toLowerCase().includes(needle);
      line.classList.toggle('hidden', !matches);
      line.classList.toggle('match', Boolean(needle) && matches);
      if (!needle || !matches) continue;
      n += 1;
      line.closest('details.group')?.setAttribute('open', '');
      const walker = document.createTreeWalker(text, NodeFilter.SHOW_TEXT);
      for (let node = walker.nextNode(); node; node = walker.nextNode()) {
        const haystack = node.data.toLowerCase();
        for (let at = haystack.indexOf(needle); at >= 0; at = haystack.indexOf(needle, at + needle.length)) {
          const range = new Range();
          range.setStart(node, at);
          range.setEnd(node, at + needle.length);
          ranges.push(range);
        }
      }
    }
    for (const group of panel.querySelectorAll('details.group')) {
      group.classList.toggle('hidden', Boolean(needle) && !group.querySelector('.line:not(.hidden)'));
    }
    if (count) count.textContent = needle ? `${n} matching line${n === 1 ? '' : 's'}` : '';
    if (window.CSS?.highlights && window.Highlight) {
      CSS.highlights.set('ferry-search', new Highlight(...ranges));
    }
  }

  return { follow, renderAnsi };
})();
