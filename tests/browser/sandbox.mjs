// Browser test of the `sluice sandbox` page in real headless Chromium (Debian's build, driven
// by playwright-core from target/npm; both installed by scripts/install-deps.sh).
//
//   node tests/browser/sandbox.mjs URL SCREENSHOT_DIR FILTERS_DIR
//   node tests/browser/sandbox.mjs --live URL SCREENSHOT_DIR FOLLOWED_FILE
//
// FILTERS_DIR is the folder the sandbox was started with (`-f`), a copy of sandbox/filters: the
// script edits business.conf there to check that the page reloads it, and that Save writes it.
// With --live the sandbox follows FOLLOWED_FILE (`--follow file:...`, sandbox/samples/business.log
// copied) and the script checks the Live tab, appending a line to the file.
// Each step prints `ok - NAME`; the first failed expectation prints `FAILED: NAME: WHY`, saves a
// screenshot `failure.png` and exits 1. Started by tests/sandbox_browser.rs.

import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const args = process.argv.slice(2);
const live = args[0] === '--live';
const [url, shotDir, target] = live ? args.slice(1) : args;
if (!url || !shotDir || !target) {
  console.error('usage: node tests/browser/sandbox.mjs [--live] URL SCREENSHOT_DIR FILTERS_DIR|FOLLOWED_FILE');
  process.exit(2);
}

// playwright-core lives in target/npm of the repository (NODE_PATH also works).
const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const require = createRequire(path.join(repo, 'target', 'npm', 'node_modules', '.require'));
let chromium;
try {
  ({ chromium } = require('playwright-core'));
} catch (e) {
  console.error(`FAILED: setup: playwright-core not found under target/npm (run scripts/install-deps.sh): ${e.message}`);
  process.exit(1);
}
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

// Each wait ends as soon as its condition holds; the limit only matters on a loaded CI machine.
const TIMEOUT = 30000;
const confPath = live ? null : path.join(target, 'business.conf');
const original = live ? '' : fs.readFileSync(confPath, 'utf8');
const GOOD = '2026-11-21 10:15:01,204 INFO  [checkout] order=91870 user=alice amount=12.50 status=paid took=181ms';
// Fails the grok pattern at `[`: the timestamp, the level and the spaces match first.
const BAD = '2026-11-21 10:15:02,311 WARN  checkout order=91871 user=bob';

// ---- harness ------------------------------------------------------------------------------------

class Failure extends Error {}
const problems = []; // page errors and console errors, checked after each step
let expect400 = false; // a bad tap condition answers 400, which Chromium logs as an error

async function until(what, probe, timeout = TIMEOUT) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      last = await probe();
      if (last === true) return;
    } catch (e) {
      last = e.message;
    }
    if (Date.now() > deadline) throw new Failure(`${what} (after ${timeout} ms; last seen: ${JSON.stringify(last)})`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

// `[data-testid=...]`
const t = (id, extra = '') => `[data-testid="${id}"]${extra}`;

// The text of the JSON tree's scalar at a Logstash field path, under `scope`.
function fieldValue(scope, fieldPath) {
  return scope.locator(`${t('json-field', `[data-path="${fieldPath}"]`)} > ${t('json-value')}`).first();
}

async function textOf(locator) {
  return (await locator.count()) ? ((await locator.first().textContent()) || '').trim() : null;
}

async function expectText(what, locator, expected) {
  await until(`${what}: expected ${JSON.stringify(expected)}`, async () => {
    const text = await textOf(locator);
    return (expected instanceof RegExp ? expected.test(text || '') : text === expected) || text;
  });
}

function lineColOf(text, needle) {
  const index = text.indexOf(needle);
  if (index < 0) throw new Failure(`"${needle}" not in the config`);
  const before = text.slice(0, index).split('\n');
  return { line: before.length, col: before[before.length - 1].length + 1 };
}

const browser = await chromium.launch({
  executablePath: CHROMIUM,
  headless: true,
  timeout: 60000,
  // The machine has no outside network: without these Chromium waits on connection attempts.
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--disable-dev-shm-usage'],
});
const context = await browser.newContext({ viewport: { width: 1500, height: 1000 } });
const page = await context.newPage();
page.setDefaultTimeout(TIMEOUT);
page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
page.on('console', (m) => {
  if (m.type() !== 'error') return;
  if (expect400 && /status of 400/.test(m.text())) return;
  problems.push(`console error: ${m.text()}`);
});
page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`));
// The page must make no request outside the sandbox server.
const origin = new URL(url).origin;
page.on('request', (r) => {
  if (!r.url().startsWith(origin) && !r.url().startsWith('data:')) problems.push(`external request: ${r.url()}`);
});

let failed = false;
async function step(name, body) {
  if (failed) return;
  try {
    await body();
    if (problems.length) throw new Failure(problems.join('; '));
    console.log(`ok - ${name}`);
  } catch (e) {
    failed = true;
    console.log(`FAILED: ${name}: ${e instanceof Failure ? e.message : e.stack || e}`);
    await page.screenshot({ path: path.join(shotDir, live ? 'failure-live.png' : 'failure.png'), fullPage: true }).catch(() => {});
  }
}

async function shot(name, locator) {
  const file = path.join(shotDir, name);
  if (locator) await locator.screenshot({ path: file });
  else await page.screenshot({ path: file, fullPage: false });
}

const editor = page.locator(t('editor'));
const results = page.locator(t('result'));

// ---- the steps ---------------------------------------------------------------------------------

async function pageSteps() {
  await step('the page loads the filter files from -f', async () => {
    fs.mkdirSync(shotDir, { recursive: true });
    await page.goto(url);
    await page.locator(t('file-tab', '[data-path$="business.conf"]')).waitFor();
    await until('the editor shows business.conf', async () => (await editor.inputValue()) === original);
    await until('the gutter numbers every line', async () =>
      (await page.locator('.gutter-line').count()) === original.split('\n').length);
    await until('the live tab stays hidden without --follow', async () => page.locator(t('tab-live')).isHidden());
  });

  await step('pasted lines give parsed events as JSON trees', async () => {
    await page.locator(t('lines')).fill(`${GOOD}\n${BAD}`);
    await until('two results', async () => (await results.count()) === 2 || (await results.count()));
    const good = results.nth(0);
    await expectText('[level] of the parsed line', fieldValue(good, '[level]'), '"INFO"');
    await expectText('[component]', fieldValue(good, '[component]'), '"checkout"');
    await expectText('[user] (from kv)', fieldValue(good, '[user]'), '"alice"');
    await expectText('[amount] (a string, as kv gives it)', fieldValue(good, '[amount]'), '"12.50"');
    await expectText('[message] quoted', fieldValue(good, '[message]'), JSON.stringify(GOOD));
    await until('kv removed [kv]', async () => (await good.locator(t('json-field', '[data-path="[kv]"]')).count()) === 0);
    await until('date removed [timestamp]', async () =>
      (await good.locator(t('json-field', '[data-path="[timestamp]"]')).count()) === 0);
    await expectText('@timestamp from the line', fieldValue(good, '[@timestamp]'), /^"2026-11-21T10:15:01\.204/);
    const bad = results.nth(1);
    await expectText('the unparsed line keeps its message', fieldValue(bad, '[message]'), JSON.stringify(BAD));
    await expectText('the unparsed line is tagged', bad.locator(t('tag')), '_grokparsefailure');
    await until('the unparsed line has no [level]', async () =>
      (await bad.locator(t('json-field', '[data-path="[level]"]')).count()) === 0);
    await expectText('the run status counts them', page.locator(t('run-status')), /2 lines → 2 events/);
    await shot('events.png');
  });

  await step('a JSON tree folds and unfolds', async () => {
    const tree = results.nth(0).locator(t('json-tree')).first();
    const rows = await tree.locator(t('json-field')).count();
    if (rows < 5) throw new Failure(`only ${rows} rows in the first event's tree`);
    // Tags are an array: a container row that folds.
    const tags = results.nth(1).locator(t('json-field', '[data-path="[tags]"]'));
    await tags.locator(t('json-toggle')).first().click();
    await until('[tags] folded', async () => (await tags.first().getAttribute('class')).includes('collapsed'));
    await tags.locator(t('json-toggle')).first().click();
    await until('[tags] unfolded', async () => !(await tags.first().getAttribute('class')).includes('collapsed'));
  });

  await step('each event shows its trace: filters, fields added and removed, tags', async () => {
    const steps = results.nth(0).locator(t('trace-step', '[data-kind="filter"]'));
    await until('three filters ran on the parsed line', async () => (await steps.count()) === 3 || (await steps.count()));
    const names = await steps.locator(t('filter-name')).allTextContents();
    if (names.join(',') !== 'grok,kv,date') throw new Failure(`filters in the trace: ${names}`);
    const grok = steps.nth(0);
    await expectText('grok added [level]', grok.locator(t('change-added')).filter({ hasText: '[level]' }), /\+\s*\[level\] = "INFO"/);
    await expectText('grok added [component]', grok.locator(t('change-added')).filter({ hasText: '[component]' }), /"checkout"/);
    const at = lineColOf(original, 'grok {');
    await expectText('grok step location', grok.locator(t('location')), new RegExp(`business\\.conf:${at.line}:${at.col}$`));
    const kv = steps.nth(1);
    await expectText('kv added [user]', kv.locator(t('change-added')).filter({ hasText: '[user]' }), /\[user\] = "alice"/);
    await expectText('kv removed [kv]', kv.locator(t('change-removed')), /\[kv\]/);
    const date = steps.nth(2);
    await expectText('date removed [timestamp]', date.locator(t('change-removed')), /\[timestamp\]/);
    const failing = results.nth(1).locator(t('trace-step', '[data-kind="filter"]')).first();
    await expectText('grok tagged the unparsed line', failing.locator(t('change-tag-added')), /_grokparsefailure/);
    await shot('trace.png', results.nth(0));
  });

  await step('the grok debugger shows the captures of a matching line', async () => {
    await results.nth(0).locator(t('trace-step', '[data-kind="filter"]')).first().locator(t('debug-grok')).click();
    const panel = page.locator(t('grok-debugger'));
    await panel.waitFor({ state: 'visible' });
    const pattern = panel.locator(t('grok-pattern')).first();
    await until('the pattern matched', async () => (await pattern.getAttribute('data-matched')) === 'true');
    await expectText('capture level', panel.locator(t('grok-capture', '[data-name="level"]')).locator('td').nth(1), 'INFO');
    await expectText('capture component', panel.locator(t('grok-capture', '[data-name="component"]')).locator('td').nth(1), 'checkout');
  });

  await step('the grok debugger explains a failure with the longest matching prefix', async () => {
    await results.nth(1).locator(`.event-head ${t('debug-grok')}`).click();
    const panel = page.locator(t('grok-debugger'));
    const pattern = panel.locator(t('grok-pattern')).first();
    await until('the pattern did not match', async () => (await pattern.getAttribute('data-matched')) === 'false');
    await expectText('the matched prefix, in green', panel.locator(t('grok-matched')), /^2026-11-21 10:15:02,311 WARN/);
    await expectText('the rest of the line, in red', panel.locator(t('grok-rest')), /checkout order=91871 user=bob$/);
    await expectText('how far it got', panel.locator(t('grok-summary')), /matched \d+ of \d+ parts; stopped at/);
    await shot('grok-debugger.png', panel);
  });

  const unknownOption = original.replace('match =>', 'matchx =>');
  await step('an unknown option is shown in place, with line and column', async () => {
    const at = lineColOf(unknownOption, 'matchx');
    await editor.fill(unknownOption);
    const diagnostic = page.locator(t('diagnostic'));
    await diagnostic.first().waitFor();
    await until(`the diagnostic is at ${at.line}:${at.col}`, async () =>
      `${await diagnostic.first().getAttribute('data-line')}:${await diagnostic.first().getAttribute('data-col')}` === `${at.line}:${at.col}` ||
      `${await diagnostic.first().getAttribute('data-line')}:${await diagnostic.first().getAttribute('data-col')}`);
    await expectText('its location link', diagnostic.first().locator(t('location')), new RegExp(`business\\.conf:${at.line}:${at.col}$`));
    await expectText('its rendered text as sluice check prints it', diagnostic.first().locator(t('diagnostic-rendered')),
      new RegExp(`business\\.conf:${at.line}:${at.col}: grok: unknown option "matchx"[\\s\\S]*did you mean "match"`));
    await expectText('the gutter marks the line', page.locator(t('gutter-error')), String(at.line));
    await expectText('the line shows the message', page.locator(t('inline-error')), /unknown option "matchx"/);
    await until('the error line is highlighted', async () =>
      (await page.locator(t('error-line')).getAttribute('data-line')) === String(at.line));
    await expectText('the tab counts the error', page.locator(t('tab-errors')), '1');
    await diagnostic.first().locator(t('location')).click();
    const offset = unknownOption.split('\n').slice(0, at.line - 1).join('\n').length + at.col;
    await until('the location link selects the option in the editor', async () =>
      (await editor.evaluate((e) => e.selectionStart)) === offset || (await editor.evaluate((e) => e.selectionStart)));
    await until('the last good events are greyed out', async () => page.locator(t('events-stale')).isVisible());
    await shot('config-error.png');
  });

  await step('a syntax error is shown at the unclosed brace', async () => {
    const unclosed = original.replace('remove_field => ["kv"] }', 'remove_field => ["kv"]');
    const at = lineColOf(unclosed, 'kv {');
    await editor.fill(unclosed);
    const diagnostic = page.locator(t('diagnostic')).first();
    await until(`a diagnostic on line ${at.line}`, async () =>
      (await diagnostic.getAttribute('data-line')) === String(at.line) || (await diagnostic.getAttribute('data-line')));
    await expectText('the message names the brace', diagnostic, /unclosed|expected|"\}"/);
    await expectText('the gutter marks it', page.locator(t('gutter-error')), String(at.line));
  });

  await step('fixing the config brings the events back', async () => {
    await editor.fill(original);
    await until('no diagnostics left', async () => (await page.locator(t('diagnostic')).count()) === 0);
    await until('the events are current again', async () => page.locator(t('events-stale')).isHidden());
    await expectText('[level] again', fieldValue(results.nth(0), '[level]'), '"INFO"');
    await until('no error marks left', async () => (await page.locator(t('gutter-error')).count()) === 0);
  });

  const withTeam = original.replace('filter {', 'filter {\n  mutate { add_field => { "team" => "shop" } }');
  await step('a change on disk reloads the file and re-runs', async () => {
    fs.writeFileSync(confPath, withTeam);
    await expectText('the reload notice', page.locator(t('reload-notice')), /business\.conf changed on disk — reloaded/);
    await until('the editor holds the new text', async () => (await editor.inputValue()) === withTeam);
    await expectText('the new filter ran', fieldValue(results.nth(0), '[team]'), '"shop"');
  });

  await step('a change on disk while the page has unsaved edits asks first', async () => {
    const edited = withTeam + '# being edited in the page\n';
    await editor.fill(edited);
    await until('the tab shows unsaved edits', async () => (await page.locator(`${t('file-tab')} .unsaved`).count()) === 1);
    const onDisk = withTeam.replace('"shop"', '"cart"');
    fs.writeFileSync(confPath, onDisk);
    await page.locator(t('disk-conflict')).waitFor({ state: 'visible' });
    if ((await editor.inputValue()) !== edited) throw new Failure('the page overwrote unsaved edits');
    await page.locator(t('conflict-reload')).click();
    await until('the editor holds the disk version', async () => (await editor.inputValue()) === onDisk);
    await expectText('the disk version ran', fieldValue(results.nth(0), '[team]'), '"cart"');
    await until('no conflict left', async () => page.locator(t('disk-conflict')).isHidden());
  });

  await step('edits are written back only when Save is clicked', async () => {
    const saved = fs.readFileSync(confPath, 'utf8').replace('"cart"', '"page"');
    await editor.fill(saved);
    await expectText('the edit runs without saving', fieldValue(results.nth(0), '[team]'), '"page"');
    if (fs.readFileSync(confPath, 'utf8') === saved) throw new Failure('the file was written before Save');
    await page.locator(t('save')).click();
    await until('the file on disk has the edit', async () => fs.readFileSync(confPath, 'utf8') === saved);
    await expectText('the save status', page.locator(t('save-status')), /saved .*business\.conf/);
    await until('no unsaved mark left', async () => (await page.locator(`${t('file-tab')} .unsaved`).count()) === 0);
  });

  await step('a sample file loads as lines', async () => {
    const sample = path.join(repo, 'sandbox', 'samples', 'business.log');
    await page.locator(t('load-file')).setInputFiles(sample);
    await until('the lines are the file', async () =>
      (await page.locator(t('lines')).inputValue()) === fs.readFileSync(sample, 'utf8'));
    await until('one result per line', async () => (await results.count()) === 4 || (await results.count()));
    await expectText('the third line is the payment error', fieldValue(results.nth(2), '[level]'), '"ERROR"');
  });

  await step('the codec and extra fields apply to the lines', async () => {
    await page.locator(t('codec')).fill('json');
    await page.locator(t('fields')).fill('{"type": "app"}');
    await page.locator(t('lines')).fill(JSON.stringify({ message: GOOD, env: 'prod' }));
    await until('one result', async () => (await results.count()) === 1 || (await results.count()));
    await expectText('a field of the JSON line', fieldValue(results.nth(0), '[env]'), '"prod"');
    await expectText('the extra field', fieldValue(results.nth(0), '[type]'), '"app"');
    await expectText('the filters parsed its message', fieldValue(results.nth(0), '[user]'), '"alice"');
    await page.locator(t('codec')).fill('nope');
    await expectText('an unknown codec is explained on the line', results.nth(0).locator(t('line-error')), /unknown codec "nope"/);
    await page.locator(t('codec')).fill('json');
    await expectText('the JSON line again', fieldValue(results.nth(0), '[env]'), '"prod"');
    await page.locator(t('fields')).fill('{"type": ');
    await expectText('bad fields are explained', page.locator(t('fields-error')), /^fields: /);
    await until('the events are marked stale', async () => page.locator(t('events-stale')).isVisible());
    await page.locator(t('fields')).fill('');
    await page.locator(t('codec')).fill('line');
    await until('fresh events again', async () => page.locator(t('events-stale')).isHidden());
    await expectText('the line codec keeps the JSON text', fieldValue(results.nth(0), '[message]'),
      JSON.stringify(JSON.stringify({ message: GOOD, env: 'prod' })));
  });

  await step('a test case of the filter folder fills the lines', async () => {
    const select = page.locator(t('test-cases'));
    const value = await select.locator('option', { hasText: 'this line does not follow the format' }).getAttribute('value');
    await select.selectOption(value);
    await until('the lines are the case input', async () =>
      (await page.locator(t('lines')).inputValue()) === 'this line does not follow the format');
    await until('one result', async () => (await results.count()) === 1 || (await results.count()));
    await expectText('the case line is tagged', results.nth(0).locator(t('tag')), '_grokparsefailure');
  });


  const routingPath = path.join(target, 'routing.conf');
  const routing = [
    '# Routes the parsed events (added by the browser test).',
    'filter {',
    '  if [level] == "DEBUG" {',
    '    drop {}',
    '  } else if [component] == "payment" {',
    '    mutate { add_tag => ["payments"] add_field => { "[@metadata][index]" => "payments" } }',
    '  } else {',
    '    mutate { add_field => { "route" => "default" } }',
    '  }',
    '}',
    '',
  ].join('\n');
  await step('a new file on disk gets a tab; conditions, else and drop show in the traces', async () => {
    fs.writeFileSync(routingPath, routing);
    await page.locator(t('file-tab', '[data-path$="routing.conf"]')).waitFor();
    await page.locator(t('lines')).fill([
      '2026-11-21 10:15:03,000 DEBUG [checkout] order=1 user=x',
      '2026-11-21 10:15:04,000 ERROR [payment] order=2 user=y',
      '2026-11-21 10:15:05,000 INFO  [checkout] order=3 user=z',
    ].join('\n'));
    await until('three results', async () => (await results.count()) === 3 || (await results.count()));
    const debug = results.nth(0);
    await until('the DEBUG line is dropped', async () =>
      (await debug.locator(t('dropped')).count()) === 1 && (await debug.locator(t('event')).count()) === 0);
    const condition = debug.locator(t('trace-step', '[data-kind="condition"]')).first();
    await expectText('the condition held', condition.locator(t('cond-result')), 'true');
    const at = lineColOf(routing, '[level] == "DEBUG"');
    await expectText('the condition\'s place', condition.locator(t('location')), `routing.conf:${at.line}:${at.col}`);
    await expectText('drop dropped it', debug.locator(t('change-dropped')), /dropped the event/);
    const payment = results.nth(1);
    const results2 = await payment.locator(`${t('trace-step', '[data-kind="condition"]')} ${t('cond-result')}`).allTextContents();
    if (results2.join(',') !== 'false,true') throw new Failure(`conditions on the payment line: ${results2}`);
    const keywords = await payment.locator(`${t('trace-step', '[data-kind="condition"]')} .kw`).allTextContents();
    if (keywords.map((k) => k.trim()).join(',') !== 'if,else if') throw new Failure(`condition keywords: ${keywords}`);
    await expectText('the payment tag', payment.locator(t('tag')), 'payments');
    await expectText('@metadata is shown apart', fieldValue(payment.locator('.metadata'), '[index]'), '"payments"');
    const other = results.nth(2);
    await until('the else branch ran', async () => (await other.locator(t('trace-step', '[data-kind="else"]')).count()) === 1);
    await expectText('the else branch\'s field', fieldValue(other, '[route]'), '"default"');
    await shot('dropped.png', debug);
    await shot('conditions.png', other);
  });

  await step('a file removed from disk leaves the page', async () => {
    fs.unlinkSync(routingPath);
    await until('the routing.conf tab is gone', async () =>
      (await page.locator(t('file-tab', '[data-path$="routing.conf"]')).count()) === 0);
    await until('the else field is gone', async () =>
      (await results.nth(2).locator(t('json-field', '[data-path="[route]"]')).count()) === 0);
  });

  fs.writeFileSync(confPath, original);
}

async function liveSteps() {
  const taps = page.locator(t('tap-event'));
  await step('the live tab appears when the sandbox follows a source', async () => {
    fs.mkdirSync(shotDir, { recursive: true });
    await page.goto(url);
    await page.locator(t('tab-live')).waitFor({ state: 'visible' });
    await page.locator(t('tab-live')).click();
    await expectText('the source is named', page.locator(t('tap-source')), new RegExp(path.basename(target).replace('.', '\\.')));
  });

  await step('the live tab shows the followed lines through the filters', async () => {
    await until('four events', async () => (await taps.count()) === 4 || (await taps.count()));
    await until('an event parsed by the filters', async () =>
      (await page.locator(`${t('tap-events')} ${t('json-field', '[data-path="[component]"]')}`).count()) === 3);
    await expectText('the status counts what was seen', page.locator(t('tap-status')), /4 events seen/);
  });

  await step('a condition narrows the events', async () => {
    await page.locator(t('tap-where')).fill('[level] == "ERROR"');
    await until('one event', async () => (await taps.count()) === 1 || (await taps.count()));
    await expectText('the error line', fieldValue(taps.first(), '[component]'), '"payment"');
  });

  await step('fields cut the events down', async () => {
    await page.locator(t('tap-fields')).fill('level,user');
    await until('only the chosen fields', async () => {
      const paths = await taps.first().locator(t('json-field')).evaluateAll((rows) => rows.map((r) => r.dataset.path));
      return paths.join(',') === '[level],[user]' || paths.join(',');
    });
  });

  await step('a line appended to the source shows up', async () => {
    fs.appendFileSync(target, '2026-11-21 10:16:00,000 ERROR [stock] order=91873 user=dave amount=1.00 status=failed took=5ms\n');
    await until('two error events', async () => (await taps.count()) === 2 || (await taps.count()));
    await expectText('the newest first', fieldValue(taps.first(), '[user]'), '"dave"');
    await shot('live.png');
  });

  await step('a bad condition shows the error', async () => {
    expect400 = true;
    await page.locator(t('tap-where')).fill('[level] ==');
    await expectText('the condition error', page.locator(t('tap-error')), /where/);
    await page.locator(t('tap-where')).fill('');
    await until('the error goes away', async () => page.locator(t('tap-error')).isHidden());
    expect400 = false;
    await until('all five events again', async () => (await taps.count()) === 5 || (await taps.count()));
  });
}

if (live) await liveSteps();
else await pageSteps();
await browser.close();
if (failed) process.exit(1);
console.log(live ? 'all live checks passed' : 'all browser checks passed');
