// The sluice sandbox page: runs the page's filter config over the page's sample lines through
// the sandbox server (API in src/sandbox/mod.rs) and shows the events as JSON trees with their
// traces, the config's errors in place, the grok debugger and the live tap.
//
// Plain browser JavaScript, no framework, no build step, no external requests. Parts, in order:
// helpers (DOM, API), state, the config editor (tabs, gutter, error marks), runs (debounced
// POST /api/run) and their rendering (JSON trees, traces), the grok debugger, file polling
// (reload on change, conflicts with unsaved edits, save), the sample-line inputs, the live tap.
'use strict';

(() => {
  // ---- helpers ------------------------------------------------------------------------------

  const byTestId = (id, root = document) => root.querySelector(`[data-testid="${id}"]`);

  // el('div', {class: 'x', 'data-testid': 'y', onclick: f}, child, 'text', ...)
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (name.startsWith('on')) node.addEventListener(name.slice(2), value);
      else if (name === 'text') node.textContent = value;
      else node.setAttribute(name, value === true ? '' : String(value));
    }
    for (const child of children.flat()) {
      if (child === undefined || child === null || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  // Calls the sandbox API; throws an Error carrying the server's `error` and the HTTP status.
  async function api(method, url, body) {
    const init = { method, headers: {} };
    if (body !== undefined) {
      init.headers['content-type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    const response = await fetch(url, init);
    const text = await response.text();
    let data = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch (_) {
      data = { error: text };
    }
    if (!response.ok) {
      const error = new Error((data && data.error) || `${response.status} ${response.statusText}`);
      error.status = response.status;
      throw error;
    }
    return data;
  }

  function debounce(fn, ms) {
    let timer = null;
    return (...args) => {
      clearTimeout(timer);
      timer = setTimeout(() => fn(...args), ms);
    };
  }

  // A value in one line for traces: JSON, cut when long (the full text stays in the tooltip).
  function compact(value, max = 160) {
    const text = value === undefined ? 'undefined' : JSON.stringify(value);
    return text.length > max ? text.slice(0, max - 1) + '…' : text;
  }

  const plural = (n, word) => `${n} ${word}${n === 1 ? '' : 's'}`;

  // ---- state --------------------------------------------------------------------------------

  const state = {
    version: null,
    root: '',
    writable: true,
    files: [], // {path, text (the page's), disk (last seen on disk), pendingDisk (conflict)}
    active: 0,
    tests: [],
    diagnostics: [],
    runSeq: 0,
    shown: null, // the request whose results are on screen (the grok debugger reuses it)
    collapsed: new Map(), // JSON tree nodes and traces the user folded or unfolded
  };

  const ui = {
    status: byTestId('run-status'),
    root: byTestId('root'),
    lines: byTestId('lines'),
    loadFile: byTestId('load-file'),
    testCases: byTestId('test-cases'),
    codec: byTestId('codec'),
    fields: byTestId('fields'),
    fieldsError: byTestId('fields-error'),
    tabs: byTestId('file-tabs'),
    save: byTestId('save'),
    saveStatus: byTestId('save-status'),
    workspaceError: byTestId('workspace-error'),
    notice: byTestId('reload-notice'),
    conflict: byTestId('disk-conflict'),
    editor: byTestId('editor'),
    gutter: byTestId('gutter'),
    backdrop: document.querySelector('.backdrop'),
    diagnostics: byTestId('diagnostics'),
    results: byTestId('results'),
    stale: byTestId('events-stale'),
    grok: byTestId('grok-debugger'),
    tabEvents: byTestId('tab-events'),
    tabLive: byTestId('tab-live'),
    eventsView: byTestId('events-view'),
    liveView: byTestId('live-view'),
  };

  function setStatus(text, kind) {
    ui.status.textContent = text;
    ui.status.className = 'run-status' + (kind ? ' ' + kind : '');
  }

  const activeFile = () => state.files[state.active];
  const edited = (file) => file.text !== file.disk;

  // ---- config editor ------------------------------------------------------------------------

  // Diagnostics of one file; a diagnostic names the file as /api/files does, or ends with it.
  function diagnosticsOf(path) {
    return state.diagnostics.filter(
      (d) => d.path && (d.path === path || d.path.endsWith('/' + path) || path.endsWith('/' + d.path)),
    );
  }

  function renderTabs() {
    ui.tabs.replaceChildren(
      ...state.files.map((file, index) => {
        const errors = diagnosticsOf(file.path).length;
        return el(
          'button',
          {
            type: 'button',
            role: 'tab',
            class: 'file-tab' + (index === state.active ? ' active' : '') + (errors ? ' has-errors' : ''),
            'data-testid': 'file-tab',
            'data-path': file.path,
            'aria-selected': index === state.active ? 'true' : 'false',
            title: file.path,
            onclick: () => selectFile(index),
          },
          file.path.split('/').pop(),
          edited(file) ? el('span', { class: 'unsaved', title: 'unsaved edits' }, ' •') : null,
          errors ? el('span', { class: 'error-count', 'data-testid': 'tab-errors' }, errors) : null,
        );
      }),
    );
    const anyEdited = state.files.some(edited);
    ui.save.disabled = !state.writable || !anyEdited;
    ui.save.title = state.writable ? 'Write the edited files back (Ctrl+S)' : 'The sandbox was started read-only';
  }

  function selectFile(index) {
    if (index === state.active && ui.editor.value === (activeFile() || {}).text) return;
    state.active = index;
    const file = activeFile();
    ui.editor.value = file ? file.text : '';
    ui.editor.scrollTop = 0;
    ui.editor.scrollLeft = 0;
    renderTabs();
    renderMarks();
  }

  // The gutter (line numbers, error markers) and the backdrop behind the transparent textarea
  // (the error line's band, the wavy underline of the error's span, the message at the line's end).
  function renderMarks() {
    const file = activeFile();
    const text = ui.editor.value;
    const lines = text.split('\n');
    const marks = new Map(); // line -> diagnostics
    for (const d of file ? diagnosticsOf(file.path) : []) {
      const line = Math.min(Math.max(d.line || 1, 1), lines.length);
      if (!marks.has(line)) marks.set(line, []);
      marks.get(line).push(d);
    }
    const gutter = [];
    const backdrop = [];
    lines.forEach((lineText, i) => {
      const number = i + 1;
      const here = marks.get(number);
      if (!here) {
        gutter.push(el('div', { class: 'gutter-line' }, number));
        backdrop.push(el('div', { class: 'bd-line' }, lineText || ' '));
        return;
      }
      const message = here.map((d) => `${d.line}:${d.col}: ${d.message}`).join('\n');
      gutter.push(
        el('div', { class: 'gutter-line error', 'data-testid': 'gutter-error', 'data-line': number, title: message }, number),
      );
      const d = here[0];
      const start = Math.max((d.col || 1) - 1, 0);
      const end = d.end_line === d.line && d.end_col > d.col ? d.end_col - 1 : lineText.length;
      backdrop.push(
        el(
          'div',
          { class: 'bd-line error', 'data-testid': 'error-line', 'data-line': number },
          lineText.slice(0, start),
          el('span', { class: 'squiggle' }, lineText.slice(start, Math.max(end, start + 1)) || ' '),
          lineText.slice(Math.max(end, start + 1)),
          el('span', { class: 'inline-message', 'data-testid': 'inline-error' }, '   ' + here.map((d) => d.message).join('; ')),
        ),
      );
    });
    ui.gutter.replaceChildren(...gutter);
    ui.backdrop.replaceChildren(...backdrop);
    syncScroll();
  }

  function syncScroll() {
    ui.gutter.scrollTop = ui.editor.scrollTop;
    ui.backdrop.style.transform = `translate(${-ui.editor.scrollLeft}px, ${-ui.editor.scrollTop}px)`;
  }

  function lineHeight() {
    return parseFloat(getComputedStyle(ui.editor).lineHeight) || 18;
  }

  // Shows path:line:col in the editor: the file's tab, the line selected and scrolled to.
  function goTo(path, line, col) {
    const index = state.files.findIndex(
      (f) => f.path === path || (path && (path.endsWith('/' + f.path) || f.path.endsWith('/' + path))),
    );
    if (index < 0 || !line) return;
    selectFile(index);
    const lines = ui.editor.value.split('\n');
    const lineIndex = Math.min(line, lines.length) - 1;
    let offset = 0;
    for (let i = 0; i < lineIndex; i++) offset += lines[i].length + 1;
    ui.editor.focus();
    ui.editor.setSelectionRange(offset + Math.max((col || 1) - 1, 0), offset + lines[lineIndex].length);
    ui.editor.scrollTop = Math.max(lineIndex * lineHeight() - ui.editor.clientHeight / 3, 0);
    syncScroll();
  }

  // A path as short as it can be while still clear: relative to the -f folder.
  function shortPath(path) {
    if (!path) return path;
    const root = (state.root || '').replace(/\/+$/, '');
    if (root && path.startsWith(root + '/')) return path.slice(root.length + 1);
    if (root && path === root) return path.split('/').pop();
    return path;
  }

  function locationLink(path, line, col, label) {
    if (line == null) return null;
    return el(
      'a',
      { href: '#', class: 'loc', 'data-testid': 'location', title: `${path || ''}:${line}:${col}`,
        onclick: (e) => (e.preventDefault(), goTo(path, line, col)) },
      label || `${path ? shortPath(path) + ':' : ''}${line}:${col}`,
    );
  }

  function renderDiagnostics() {
    ui.diagnostics.replaceChildren(
      ...state.diagnostics.map((d) =>
        el(
          'div',
          {
            class: 'diagnostic',
            'data-testid': 'diagnostic',
            'data-path': d.path || '',
            'data-line': d.line,
            'data-col': d.col,
          },
          el(
            'div',
            { class: 'diagnostic-head' },
            locationLink(d.path, d.line, d.col) || el('span', { class: 'loc' }, d.path || 'config'),
            el('span', { class: 'diagnostic-message' }, ' ' + d.message),
          ),
          d.help && !d.rendered ? el('div', { class: 'diagnostic-help' }, 'help: ' + d.help) : null,
          d.rendered ? el('pre', { class: 'rendered', 'data-testid': 'diagnostic-rendered' }, d.rendered) : null,
        ),
      ),
    );
  }

  function onEditorInput() {
    const file = activeFile();
    if (!file) return;
    file.text = ui.editor.value;
    renderTabs();
    renderMarks();
    scheduleRun();
  }

  function onEditorKey(event) {
    if ((event.ctrlKey || event.metaKey) && event.key === 's') {
      event.preventDefault();
      save();
    } else if (event.key === 'Tab' && !event.shiftKey && !event.ctrlKey && !event.altKey) {
      // Two spaces, as the example configs are indented; execCommand keeps the undo history.
      event.preventDefault();
      document.execCommand('insertText', false, '  ');
    }
  }

  // ---- runs -----------------------------------------------------------------------------------

  // The request for the page's current lines and config, or null when `fields` is not valid JSON.
  function currentRequest() {
    const lines = ui.lines.value.split('\n').filter((line) => line !== '');
    const request = { files: state.files.map((f) => ({ path: f.path, text: f.text })), lines };
    const codec = ui.codec.value.trim();
    if (codec) request.codec = codec;
    const fieldsText = ui.fields.value.trim();
    ui.fieldsError.textContent = '';
    if (fieldsText) {
      let fields;
      try {
        fields = JSON.parse(fieldsText);
      } catch (e) {
        ui.fieldsError.textContent = 'fields: ' + e.message;
        return null;
      }
      if (!fields || typeof fields !== 'object' || Array.isArray(fields)) {
        ui.fieldsError.textContent = 'fields must be a JSON object';
        return null;
      }
      request.fields = fields;
    }
    return request;
  }

  async function run() {
    if (state.version === null) return; // the files are not loaded yet
    const request = currentRequest();
    if (!request) {
      state.runSeq++; // an answer still on its way is for other fields: drop it
      markStale('Not run: the fields are not a JSON object. These are the events of the last run.');
      setStatus('not run: fix the fields', 'error');
      return;
    }
    const seq = ++state.runSeq;
    setStatus('running…', 'busy');
    const started = performance.now();
    let data;
    try {
      data = await api('POST', '/api/run', request);
    } catch (e) {
      if (seq !== state.runSeq) return;
      setStatus('run failed: ' + e.message, 'error');
      markStale(`The run failed: ${e.message}. These are the events of the last run that worked.`);
      return;
    }
    if (seq !== state.runSeq) return; // a newer run is under way; its answer wins
    const ms = Math.round(performance.now() - started);
    if (data.ok) {
      state.diagnostics = [];
      state.shown = request;
      renderResults(data.results || []);
      markStale(null);
      const events = (data.results || []).reduce((n, r) => n + (r.events || []).length, 0);
      const dropped = (data.results || []).reduce((n, r) => n + (r.dropped || []).length, 0);
      setStatus(`${plural(request.lines.length, 'line')} → ${plural(events, 'event')}` +
        (dropped ? `, ${dropped} dropped` : '') + ` · ${ms} ms`, 'ok');
    } else {
      state.diagnostics = data.diagnostics || [];
      markStale('The config has errors: these are the events of the last config that worked.');
      setStatus(plural(state.diagnostics.length, 'config error'), 'error');
    }
    renderDiagnostics();
    renderTabs();
    renderMarks();
  }

  const scheduleRun = debounce(run, 300);

  // Greys out the events on screen and says why (`why` null: they are current).
  function markStale(why) {
    ui.stale.hidden = !why;
    ui.stale.textContent = why || '';
    ui.results.classList.toggle('stale', !!why);
  }

  // ---- results: events, JSON trees, traces ----------------------------------------------------

  // How many input lines get their events drawn; a pasted log of thousands of lines would
  // otherwise build a DOM too large to stay responsive while typing.
  const RESULTS_SHOWN = 200;
  let resultsLimit = RESULTS_SHOWN;
  let lastResults = [];

  function renderResults(results) {
    lastResults = results;
    if (!results.length) {
      ui.results.replaceChildren(el('p', { class: 'empty' }, 'Paste lines on the left to see the events they give.'));
      return;
    }
    const shown = results.slice(0, resultsLimit);
    const more = results.length - shown.length;
    ui.results.replaceChildren(
      ...shown.map(renderResult),
      more > 0
        ? el('button', {
          type: 'button',
          class: 'more',
          'data-testid': 'more-results',
          onclick: () => {
            resultsLimit += RESULTS_SHOWN * 5;
            renderResults(lastResults);
          },
        }, `${plural(more, 'more line')} not shown: show more`)
        : null,
    );
  }

  function renderResult(result, i) {
    const events = result.events || [];
    const dropped = result.dropped || [];
    return el(
      'div',
      { class: 'result', 'data-testid': 'result', 'data-index': i },
      el(
        'div',
        { class: 'result-head' },
        el('span', { class: 'line-no' }, `line ${i + 1}`),
        el('code', { class: 'input-line', 'data-testid': 'input-line', title: result.input }, result.input),
      ),
      result.error ? el('div', { class: 'line-error error', 'data-testid': 'line-error' }, result.error) : null,
      events.map((event, j) => renderEvent(event, result.input, `${i}.${j}`)),
      dropped.map((drop, j) =>
        el(
          'div',
          { class: 'dropped', 'data-testid': 'dropped' },
          el('div', { class: 'dropped-head' }, 'dropped'),
          renderTrace(drop.trace || [], result.input, `${i}.d${j}`),
        ),
      ),
      events.length || dropped.length || result.error ? null : el('div', { class: 'note' }, 'no event'),
    );
  }

  function renderEvent(item, input, key) {
    const event = item.event || {};
    const tags = Array.isArray(event.tags) ? event.tags : [];
    const trace = item.trace || [];
    const grokFailed = tags.some((t) => typeof t === 'string' && t.startsWith('_grokparsefailure'));
    const failedGrok = grokFailed ? failingGrokId(trace) : null;
    const metadata = item.metadata && Object.keys(item.metadata).length ? item.metadata : null;
    return el(
      'div',
      { class: 'event', 'data-testid': 'event' },
      el(
        'div',
        { class: 'event-head' },
        el('span', { class: 'event-title' }, 'event'),
        tags.map((t) =>
          el('span', { class: 'tag' + (String(t).startsWith('_') ? ' failure' : ''), 'data-testid': 'tag' }, t),
        ),
        failedGrok
          ? el(
              'button',
              {
                type: 'button',
                class: 'debug-grok',
                'data-testid': 'debug-grok',
                'data-grok-id': failedGrok,
                onclick: () => debugGrok(failedGrok, input),
              },
              `debug grok ${failedGrok}`,
            )
          : null,
      ),
      jsonTree(event, key),
      metadata
        ? el('div', { class: 'metadata' }, el('div', { class: 'metadata-head' }, '@metadata'), jsonTree(metadata, key + '@'))
        : null,
      renderTrace(trace, input, key),
    );
  }

  // The grok filter that tagged the event with _grokparsefailure, else the first grok that ran.
  function failingGrokId(trace) {
    const groks = trace.filter((s) => s.kind === 'filter' && s.name === 'grok');
    const tagging = groks.filter((s) => (s.tags_added || []).some((t) => String(t).startsWith('_grokparsefailure')));
    const step = tagging[tagging.length - 1] || groks[0];
    return step ? step.id : null;
  }

  function isContainer(value) {
    return value !== null && typeof value === 'object';
  }

  // A collapsible tree of a JSON value; keys in the order the server gave them.
  function jsonTree(value, key) {
    const tree = el('div', { class: 'json-tree', 'data-testid': 'json-tree' });
    if (isContainer(value)) {
      const entries = Array.isArray(value) ? value.map((v, i) => [i, v]) : Object.entries(value);
      if (!entries.length) tree.append(el('span', { class: 'jempty' }, Array.isArray(value) ? '[]' : '{}'));
      for (const [k, v] of entries) tree.append(jsonNode(k, v, `[${k}]`, 0, key));
    } else {
      tree.append(scalar(value));
    }
    return tree;
  }

  function scalar(value) {
    if (typeof value === 'string') return el('span', { class: 'jval jstr', 'data-testid': 'json-value' }, JSON.stringify(value));
    const kind = value === null ? 'jnull' : typeof value === 'number' ? 'jnum' : 'jbool';
    return el('span', { class: 'jval ' + kind, 'data-testid': 'json-value' }, String(value));
  }

  function jsonNode(key, value, path, depth, treeKey) {
    const keyEl = el('span', { class: typeof key === 'number' ? 'jkey jindex' : 'jkey' }, typeof key === 'number' ? key : JSON.stringify(key));
    if (!isContainer(value)) {
      return el('div', { class: 'jrow', 'data-testid': 'json-field', 'data-path': path }, keyEl, el('span', { class: 'jcolon' }, ': '), scalar(value));
    }
    const array = Array.isArray(value);
    const entries = array ? value.map((v, i) => [i, v]) : Object.entries(value);
    if (!entries.length) {
      return el('div', { class: 'jrow', 'data-testid': 'json-field', 'data-path': path }, keyEl, el('span', { class: 'jcolon' }, ': '),
        el('span', { class: 'jval jempty', 'data-testid': 'json-value' }, array ? '[]' : '{}'));
    }
    const stateKey = `${treeKey}:${path}`;
    const remembered = state.collapsed.get(stateKey);
    const collapsed = remembered === undefined ? depth >= 3 : remembered;
    const summary = el('span', { class: 'jsummary' }, array ? `[${entries.length}]` : `{${entries.length}}`);
    const children = el('div', { class: 'jchildren' });
    for (const [k, v] of entries) children.append(jsonNode(k, v, `${path}[${k}]`, depth + 1, treeKey));
    const row = el('div', { class: 'jrow jcontainer' + (collapsed ? ' collapsed' : ''), 'data-testid': 'json-field', 'data-path': path });
    const toggle = el('button', {
      type: 'button',
      class: 'jtoggle',
      'data-testid': 'json-toggle',
      'aria-expanded': collapsed ? 'false' : 'true',
      onclick: () => {
        const now = !row.classList.contains('collapsed');
        row.classList.toggle('collapsed', now);
        toggle.setAttribute('aria-expanded', now ? 'false' : 'true');
        state.collapsed.set(stateKey, now);
      },
    });
    row.append(el('div', { class: 'jline' }, toggle, keyEl, el('span', { class: 'jcolon' }, ': '), summary), children);
    return row;
  }

  function renderTrace(trace, input, key) {
    const stateKey = 'trace:' + key;
    const remembered = state.collapsed.get(stateKey);
    const box = el('details', { class: 'trace-box', 'data-testid': 'trace-box', open: remembered === undefined ? true : !remembered });
    box.addEventListener('toggle', () => state.collapsed.set(stateKey, !box.open));
    box.append(
      el('summary', {}, `trace (${plural(trace.length, 'step')})`),
      el('ol', { class: 'trace', 'data-testid': 'trace' }, trace.map((step) => renderStep(step, input))),
    );
    return box;
  }

  function renderStep(step, input) {
    const item = el('li', { class: 'step step-' + step.kind, 'data-testid': 'trace-step', 'data-kind': step.kind });
    if (step.kind === 'condition') {
      item.append(
        el('span', { class: 'kw' }, (step.keyword || 'if') + ' '),
        el('code', { class: 'cond-text' }, step.text),
        ' ',
        el('span', { class: 'result-badge ' + (step.result ? 'true' : 'false'), 'data-testid': 'cond-result' }, String(!!step.result)),
        ' ',
        locationLink(step.path, step.line, step.col),
      );
    } else if (step.kind === 'else') {
      item.append(el('span', { class: 'kw' }, 'else'), ' ', el('span', { class: 'muted' }, '(no condition held)'));
    } else if (step.kind === 'filter') {
      item.append(
        el(
          'div',
          { class: 'step-head' },
          el('span', { class: 'filter-name', 'data-testid': 'filter-name' }, step.name),
          ' ',
          el('span', { class: 'filter-id' }, step.id),
          ' ',
          locationLink(step.path, step.line, step.col),
          step.name === 'grok'
            ? el(
                'button',
                { type: 'button', class: 'debug-grok small', 'data-testid': 'debug-grok', 'data-grok-id': step.id, onclick: () => debugGrok(step.id, input) },
                'debug grok',
              )
            : null,
        ),
        stepChanges(step),
      );
    } else {
      item.append(el('code', {}, compact(step)));
    }
    return item;
  }

  function stepChanges(step) {
    const rows = [];
    const change = (cls, sign, ...parts) => rows.push(el('div', { class: 'change ' + cls, 'data-testid': 'change-' + cls }, el('span', { class: 'sign' }, sign), ...parts));
    for (const [field, value] of Object.entries(step.added || {})) {
      change('added', '+', el('span', { class: 'field' }, field), ' = ', el('code', { title: JSON.stringify(value) }, compact(value)));
    }
    for (const [field, fromTo] of Object.entries(step.changed || {})) {
      const { from, to } = fromTo || {};
      change('changed', '~', el('span', { class: 'field' }, field), ' ', el('code', { class: 'from', title: JSON.stringify(from) }, compact(from)),
        ' → ', el('code', { class: 'to', title: JSON.stringify(to) }, compact(to)));
    }
    for (const field of step.removed || []) change('removed', '-', el('span', { class: 'field' }, field));
    for (const tag of step.tags_added || []) change('tag-added', '+', 'tag ', el('span', { class: 'tag' + (String(tag).startsWith('_') ? ' failure' : '') }, tag));
    for (const tag of step.tags_removed || []) change('tag-removed', '-', 'tag ', el('span', { class: 'tag' }, tag));
    if (step.dropped) change('dropped', '✕', 'dropped the event');
    if (step.created) change('created', '⊕', `created ${plural(step.created, 'event')}`);
    if (!rows.length) rows.push(el('div', { class: 'change none muted' }, 'no change'));
    return el('div', { class: 'changes' }, rows);
  }

  // ---- grok debugger --------------------------------------------------------------------------

  async function debugGrok(id, input) {
    const request = state.shown || currentRequest();
    if (!request) return;
    const body = { files: request.files, id, line: input };
    if (request.codec) body.codec = request.codec;
    if (request.fields) body.fields = request.fields;
    const panelBody = ui.grok.querySelector('.grok-body');
    ui.grok.querySelector('.grok-where').textContent = id;
    ui.grok.hidden = false;
    panelBody.replaceChildren(el('p', { class: 'muted' }, 'explaining…'));
    ui.grok.scrollIntoView({ block: 'nearest' });
    try {
      const data = await api('POST', '/api/grok', body);
      panelBody.replaceChildren(...renderGrok(data, input));
    } catch (e) {
      panelBody.replaceChildren(el('p', { class: 'error', 'data-testid': 'grok-error' }, e.message));
    }
    ui.grok.scrollIntoView({ block: 'nearest' });
  }

  // The explanation (src/filters/grok/debug.rs): fields, each with its patterns; a matched
  // pattern has captures, a failed one the longest prefix of its parts that matched.
  function renderGrok(data, input) {
    const explanation = data.explanation || data;
    const parts = [
      el(
        'div',
        { class: 'grok-head', 'data-testid': 'grok-head' },
        el('strong', {}, data.id || ''),
        ' ',
        locationLink(data.path, data.line, data.col),
        ' ',
        explanation.matched === undefined ? null
          : el('span', { class: 'result-badge ' + (explanation.matched ? 'true' : 'false'), 'data-testid': 'grok-verdict' },
            explanation.matched ? 'the filter matches' : 'no match: _grokparsefailure'),
        explanation.timed_out ? el('span', { class: 'result-badge false' }, 'timed out: _groktimeout') : null,
        el('div', { class: 'grok-input' }, 'line: ', el('code', {}, input)),
      ),
    ];
    if (data.reached === false) {
      parts.push(
        el('p', { class: 'warning', 'data-testid': 'grok-not-reached' },
          'The event does not reach this filter: a condition before it is false or an earlier filter dropped it.'),
      );
    }
    for (const field of explanation.fields || []) parts.push(renderGrokField(field, input));
    parts.push(el('details', { class: 'raw' }, el('summary', {}, 'raw explanation'), jsonTree(data, 'grok-raw')));
    return parts;
  }

  function renderGrokField(field, input) {
    const name = field.field || 'message';
    const subject = typeof field.value === 'string' ? field.value : input;
    const box = el('div', { class: 'grok-field', 'data-testid': 'grok-field', 'data-field': name });
    const notes = [];
    if (field.element !== undefined && field.element !== null) notes.push(`element ${field.element}`);
    if (field.present === false) notes.push('not in the event: matched as ""');
    if (field.tried === false) notes.push('not tried: an earlier field matched (break_on_match) or timed out');
    if (field.timed_out) notes.push('timed out');
    box.append(
      el('div', { class: 'grok-field-head' }, 'field ', el('span', { class: 'field' }, name), ' ',
        el('code', { class: 'grok-subject' }, JSON.stringify(subject)),
        notes.length ? el('span', { class: 'muted' }, ` (${notes.join('; ')})`) : null),
    );
    (field.patterns || []).forEach((pattern, index) => box.append(renderGrokPattern(pattern, index, subject)));
    return box;
  }

  function renderGrokPattern(pattern, index, subject) {
    const matched = pattern.matched === true;
    const tried = pattern.tried !== false;
    const verdict = matched ? 'matched' : !tried ? 'not tried' : pattern.timed_out ? 'timed out' : 'no match';
    const box = el('div', {
      class: 'grok-pattern ' + (matched ? 'matched' : tried ? 'failed' : 'skipped'),
      'data-testid': 'grok-pattern',
      'data-matched': matched ? 'true' : 'false',
    });
    box.append(
      el('div', { class: 'grok-pattern-head' },
        el('span', { class: 'result-badge ' + (matched ? 'true' : 'false') }, verdict),
        ` #${index + 1} `,
        el('code', { class: 'grok-pattern-text' }, pattern.pattern)),
    );
    if (matched) box.append(capturesTable(pattern.captures || []));
    else if (tried && pattern.prefix) box.append(prefixView(pattern.prefix, subject));
    return box;
  }

  function capturesTable(captures, caption) {
    if (!captures.length) return el('div', { class: 'muted' }, caption ? '' : 'no named captures');
    return el('table', { class: 'captures', 'data-testid': 'grok-captures' },
      caption ? el('caption', {}, caption) : null,
      el('thead', {}, el('tr', {}, el('th', {}, 'name'), el('th', {}, 'value'), el('th', {}, 'pattern'), el('th', {}, 'to field'))),
      el('tbody', {}, captures.map((c) =>
        el('tr', { 'data-testid': 'grok-capture', 'data-name': c.name, class: c.stored === false ? 'dropped-capture' : null },
          el('td', { class: 'field' }, c.name),
          el('td', {}, el('code', {}, c.value), c.stored === false ? el('span', { class: 'muted' }, ' (empty: not stored)') : null),
          el('td', { class: 'muted' }, [c.syntax, c.type].filter(Boolean).join(' → ')),
          el('td', { class: 'field' }, c.field && c.field !== c.name ? c.field : '')))));
  }

  // How far the line matched: before | matched text (green) | the rest (red), and the summary.
  function prefixView(prefix, subject) {
    const chars = Array.from(subject); // offsets are in characters
    const has = typeof prefix.matched_text === 'string';
    const before = has ? prefix.before : chars.slice(0, prefix.start).join('');
    const matched = has ? prefix.matched_text : chars.slice(prefix.start, prefix.end).join('');
    const after = has ? prefix.after : chars.slice(prefix.end).join('');
    const total = (prefix.parts || []).length;
    const summary = `matched ${prefix.matched_parts} of ${total} parts` +
      (prefix.next_part != null ? '; stopped at ' : '') + (prefix.timed_out ? ' (timed out)' : '');
    return el('div', { class: 'grok-prefix-box' },
      el('pre', { class: 'grok-prefix', 'data-testid': 'grok-prefix' },
        el('span', { class: 'before' }, before),
        el('span', { class: 'matched-text', 'data-testid': 'grok-matched' }, matched),
        el('span', { class: 'rest', 'data-testid': 'grok-rest' }, after)),
      el('div', { class: 'grok-summary', 'data-testid': 'grok-summary' }, summary,
        prefix.next_part != null ? el('code', { class: 'next-part', 'data-testid': 'grok-next-part' }, prefix.next_part) : null),
      total ? el('div', { class: 'grok-parts' }, (prefix.parts || []).map((part, i) =>
        el('code', { class: 'part ' + (i < prefix.matched_parts ? 'ok' : i === prefix.matched_parts ? 'next' : 'later'), title: part },
          part.replace(/ /g, '·')))) : null,
      capturesTable(prefix.captures || [], 'captures of the matched prefix'));
  }

  ui.grok.querySelector('[data-testid="grok-close"]').addEventListener('click', () => { ui.grok.hidden = true; });

  // ---- files: load, poll, reload, conflicts, save ----------------------------------------------

  let noticeTimer = null;
  function showNotice(text) {
    ui.notice.textContent = text;
    ui.notice.hidden = false;
    clearTimeout(noticeTimer);
    noticeTimer = setTimeout(() => { ui.notice.hidden = true; }, 15000);
  }

  // Takes a /api/files answer: new files appear, unedited files follow the disk, edited ones
  // that changed on disk ask first.
  function applyFiles(data) {
    const first = state.version === null;
    state.version = data.version;
    state.writable = data.writable !== false;
    state.root = data.root || '';
    ui.root.textContent = data.root ? '-f ' + data.root : '';
    ui.workspaceError.hidden = !data.error;
    ui.workspaceError.textContent = data.error || '';
    renderTestCases(data.tests || []);
    const reloaded = [];
    const conflicts = [];
    const onDisk = new Map((data.files || []).map((f) => [f.path, f.text]));
    for (const [path, text] of onDisk) {
      const file = state.files.find((f) => f.path === path);
      if (!file) {
        state.files.push({ path, text, disk: text });
        if (!first) reloaded.push(path);
      } else if (text === file.disk && file.pendingDisk === undefined) {
        continue;
      } else if (!edited(file) || text === file.text) {
        file.text = file.disk = text;
        file.pendingDisk = undefined;
        reloaded.push(path);
      } else {
        file.pendingDisk = text;
        conflicts.push(path);
      }
    }
    // A file gone from disk leaves the page unless it holds unsaved edits.
    const gone = state.files.filter((f) => !onDisk.has(f.path) && !edited(f)).map((f) => f.path);
    state.files = state.files.filter((f) => onDisk.has(f.path) || edited(f));
    if (state.active >= state.files.length) state.active = 0;
    const file = activeFile();
    if (file && ui.editor.value !== file.text) {
      const { scrollTop, scrollLeft, selectionStart, selectionEnd } = ui.editor;
      ui.editor.value = file.text;
      Object.assign(ui.editor, { scrollTop, scrollLeft });
      ui.editor.setSelectionRange(selectionStart, selectionEnd);
    }
    renderTabs();
    renderMarks();
    renderConflicts();
    const notes = [];
    if (reloaded.length) notes.push(`${reloaded.map(shortPath).join(', ')} changed on disk — reloaded`);
    if (gone.length) notes.push(`${gone.map(shortPath).join(', ')} removed from disk`);
    if (notes.length) showNotice(notes.join('; '));
    if (first || reloaded.length || gone.length) run();
  }

  function renderConflicts() {
    const pending = state.files.filter((f) => f.pendingDisk !== undefined);
    ui.conflict.hidden = !pending.length;
    ui.conflict.querySelector('.conflict-text').textContent =
      `${pending.map((f) => f.path).join(', ')} changed on disk while you have unsaved edits.`;
  }

  function resolveConflicts(takeDisk) {
    for (const file of state.files) {
      if (file.pendingDisk === undefined) continue;
      if (takeDisk) file.text = file.pendingDisk;
      file.disk = file.pendingDisk;
      file.pendingDisk = undefined;
    }
    const file = activeFile();
    if (file) ui.editor.value = file.text;
    renderTabs();
    renderMarks();
    renderConflicts();
    if (takeDisk) run();
  }

  async function pollFiles() {
    try {
      const data = await api('GET', '/api/files');
      if (data.version !== state.version) applyFiles(data);
      if (ui.status.classList.contains('offline')) setStatus('server back', 'ok');
    } catch (e) {
      setStatus('sandbox server unreachable: ' + e.message, 'error offline');
    }
    setTimeout(pollFiles, 1000);
  }

  async function save() {
    const files = state.files.filter(edited).map((f) => ({ path: f.path, text: f.text }));
    if (!files.length) {
      ui.saveStatus.textContent = 'nothing to save';
      return;
    }
    ui.saveStatus.textContent = 'saving…';
    try {
      const data = await api('POST', '/api/save', { files });
      for (const file of state.files) {
        if (!files.some((f) => f.path === file.path)) continue;
        file.disk = file.text;
        file.pendingDisk = undefined;
      }
      if (data && data.version !== undefined) state.version = data.version;
      ui.saveStatus.textContent = `saved ${files.map((f) => f.path).join(', ')}`;
      renderTabs();
      renderConflicts();
    } catch (e) {
      ui.saveStatus.textContent = e.status === 403 ? 'not saved: the sandbox was started read-only' : 'not saved: ' + e.message;
    }
  }

  // ---- sample lines: paste, file, test cases ----------------------------------------------------

  function renderTestCases(tests) {
    const signature = JSON.stringify(tests);
    if (signature === JSON.stringify(state.tests)) return;
    state.tests = tests;
    const options = [el('option', { value: '' }, 'Test cases…')];
    tests.forEach((test, t) => {
      const group = el('optgroup', { label: test.path });
      if (test.error) group.append(el('option', { value: '', disabled: true }, 'error: ' + test.error));
      (test.cases || []).forEach((testCase, c) => {
        const label = testCase.description || (testCase.input || [])[0] || `case ${c + 1}`;
        group.append(el('option', { value: `${t}:${c}` }, label.length > 80 ? label.slice(0, 79) + '…' : label));
      });
      options.push(group);
    });
    ui.testCases.replaceChildren(...options);
  }

  function onTestCase() {
    const [t, c] = ui.testCases.value.split(':').map(Number);
    const test = state.tests[t];
    const testCase = test && (test.cases || [])[c];
    if (!testCase) return;
    ui.lines.value = (testCase.input || []).join('\n');
    ui.codec.value = test.codec || 'line';
    ui.fields.value = testCase.fields && Object.keys(testCase.fields).length ? JSON.stringify(testCase.fields) : '';
    run();
  }

  function onLoadFile() {
    const file = ui.loadFile.files && ui.loadFile.files[0];
    if (!file) return;
    file.text().then((text) => {
      ui.lines.value = text.replace(/\r\n/g, '\n');
      ui.loadFile.value = '';
      run();
    });
  }

  // ---- live tap -------------------------------------------------------------------------------

  const tap = { visible: false, paused: false, timer: null, signature: '' };

  function showView(live) {
    tap.visible = live;
    ui.eventsView.hidden = live;
    ui.liveView.hidden = !live;
    ui.tabEvents.classList.toggle('active', !live);
    ui.tabLive.classList.toggle('active', live);
    if (live) pollTap();
  }

  async function pollTap() {
    clearTimeout(tap.timer);
    if (!tap.visible) return;
    if (!tap.paused) await fetchTap();
    tap.timer = setTimeout(pollTap, 1000);
  }

  async function fetchTap() {
    const params = new URLSearchParams();
    const where = byTestId('tap-where').value.trim();
    const fields = byTestId('tap-fields').value.trim();
    const limit = byTestId('tap-limit').value.trim();
    if (where) params.set('where', where);
    if (fields) params.set('fields', fields);
    if (limit) params.set('limit', limit);
    const errorBox = byTestId('tap-error');
    let data;
    try {
      data = await api('GET', '/api/tap?' + params);
    } catch (e) {
      errorBox.textContent = e.message;
      errorBox.hidden = false;
      return;
    }
    errorBox.hidden = !data.error;
    errorBox.textContent = data.error || '';
    byTestId('tap-source').replaceChildren('source: ', el('code', {}, data.source || 'none'));
    byTestId('tap-status').textContent =
      `${data.running ? 'running' : 'stopped'} · ${plural(data.seen || 0, 'event')} seen · showing ${(data.events || []).length}`;
    const events = data.events || [];
    const signature = JSON.stringify([where, fields, events.map((e) => e.seq)]);
    if (signature === tap.signature) return;
    tap.signature = signature;
    byTestId('tap-events').replaceChildren(
      ...events.slice().reverse().map((item) =>
        el('div', { class: 'event tap-event', 'data-testid': 'tap-event', 'data-seq': item.seq },
          el('div', { class: 'event-head' }, el('span', { class: 'event-title' }, `#${item.seq}`)),
          jsonTree(item.event, 'tap' + item.seq))),
    );
  }

  async function initTap() {
    try {
      const data = await api('GET', '/api/tap?limit=1');
      ui.tabLive.hidden = !(data && data.source);
    } catch (_) {
      ui.tabLive.hidden = true;
    }
  }

  // ---- wiring ---------------------------------------------------------------------------------

  ui.editor.addEventListener('input', onEditorInput);
  ui.editor.addEventListener('keydown', onEditorKey);
  ui.editor.addEventListener('scroll', syncScroll);
  ui.lines.addEventListener('input', scheduleRun);
  ui.codec.addEventListener('input', scheduleRun);
  ui.fields.addEventListener('input', scheduleRun);
  ui.testCases.addEventListener('change', onTestCase);
  ui.loadFile.addEventListener('change', onLoadFile);
  ui.save.addEventListener('click', save);
  byTestId('conflict-reload').addEventListener('click', () => resolveConflicts(true));
  byTestId('conflict-keep').addEventListener('click', () => resolveConflicts(false));
  ui.tabEvents.addEventListener('click', () => showView(false));
  ui.tabLive.addEventListener('click', () => showView(true));
  byTestId('tap-pause').addEventListener('click', (e) => {
    tap.paused = !tap.paused;
    e.target.textContent = tap.paused ? 'Resume' : 'Pause';
  });
  for (const id of ['tap-where', 'tap-fields', 'tap-limit']) {
    byTestId(id).addEventListener('input', debounce(() => { tap.signature = ''; pollTap(); }, 300));
  }
  window.addEventListener('beforeunload', (e) => {
    if (state.files.some(edited)) e.preventDefault();
  });

  setStatus('loading…', 'busy');
  pollFiles();
  initTap();
})();
