/**
 * The dashboard's page: every queue's stages (waiting, held, consumers, the oldest held entry,
 * counts of the last hour; each partition of a partitioned queue) from `GET /queues`, and a live
 * feed of job events from `GET /events?queue=`; buttons to retry a queue's dead letters and, with the admin token typed
 * in (kept for the browser tab only), to pause and resume queues and stages. Its script is served
 * beside it (`/dashboard/app.js`), so the page's content security policy allows scripts from this
 * origin only.
 */
export const dashboardHtml = (adminEnabled: boolean) => `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Conveyor dashboard</title>
<style>
  :root { color-scheme: light dark; --line: #8884; --muted: #666; --bad: #c62828; --good: #1b7a43; }
  /* Text colours readable on either background (WCAG AA, 4.5:1 or more). */
  @media (prefers-color-scheme: dark) { :root { --muted: #aaa; --bad: #ff6b6b; --good: #4cc38a; } }
  body { font: 14px/1.4 system-ui, sans-serif; margin: 0 auto; padding: 1rem 1.5rem 3rem; max-width: 72rem; }
  header { display: flex; align-items: baseline; gap: 1rem; flex-wrap: wrap; }
  h1 { font-size: 1.3rem; margin: 0; }
  h2 { font-size: 1.1rem; margin: 1.5rem 0 .3rem; }
  #status { color: var(--muted); }
  #status.error { color: var(--bad); }
  .summary { color: var(--muted); margin: 0 0 .5rem; }
  .badge { font-size: .75rem; padding: .05rem .4rem; border-radius: .6rem; border: 1px solid var(--bad); color: var(--bad); margin-left: .4rem; }
  table { border-collapse: collapse; width: 100%; }
  /* On a narrow screen a table scrolls inside its own box, not the whole page sideways. */
  .scroll { overflow-x: auto; }
  th, td { text-align: right; padding: .25rem .5rem; border-bottom: 1px solid var(--line); white-space: nowrap; }
  th:first-child, td:first-child, #feed th, #feed td { text-align: left; }
  td.attention { color: var(--bad); font-weight: 600; }
  table.partitions { margin-top: .5rem; font-size: .9em; }
  #feed td { font-family: ui-monospace, monospace; font-size: 12.5px; }
  /* An error message wraps in its cell instead of widening the feed past the page. */
  #feed td[data-field="detail"] { white-space: normal; overflow-wrap: anywhere; min-width: 24ch; }
  .event-completed { color: var(--good); }
  .event-failed, .event-dead { color: var(--bad); }
  a { color: inherit; }
  button { font: inherit; font-size: .8rem; padding: .05rem .5rem; margin-left: .5rem; cursor: pointer; }
  label { display: inline-flex; align-items: baseline; gap: .4rem; max-width: 100%; }
  input { font: inherit; font-size: .85rem; padding: .1rem .4rem; width: 21rem; min-width: 0; max-width: 100%; }
  #status.done { color: var(--good); }
</style>
</head>
<body data-admin="${adminEnabled ? 'on' : 'off'}">
<header>
  <h1>Conveyor</h1>
  <span id="updated" class="summary"></span>
  <span id="status" role="status" aria-live="polite">loading…</span>
  <span><a href="/docs">API reference</a> · <a href="/metrics">metrics</a></span>
  <label>admin token <input id="token" type="password" autocomplete="off" placeholder="ADMIN_TOKEN, to pause and resume"></label>
  <span id="admin-note" class="summary"></span>
</header>
<main id="queues"></main>
<h2>Live events <span id="feed-state" class="summary"></span></h2>
<div class="scroll"><table id="feed">
  <thead><tr><th>time</th><th>queue</th><th>event</th><th>job</th><th>stage</th><th>detail</th></tr></thead>
  <tbody><tr class="empty"><td colspan="6">no events yet: they show here as jobs are queued and run</td></tr></tbody>
</table></div>
<script src="/dashboard/app.js" defer></script>
</body>
</html>
`;
