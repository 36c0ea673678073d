/**
 * The dashboard's script, sent as is to browsers (plain ES2020, no build step). It reads
 * `GET /queues` every 5 s and soon after each event, and keeps one EventSource per queue (the
 * browser reconnects it; a `resync` event after the API lost its subscription reads the queues
 * again). Everything shown goes through textContent: job IDs and stage names are data, not HTML.
 */
export const DASHBOARD_SCRIPT = String.raw`'use strict';
(function () {
  var EVENTS = ['queued', 'active', 'progress', 'stage-completed', 'completed', 'failed', 'retrying', 'delayed', 'released', 'dead', 'cancelled', 'resync'];
  var MAX_ROWS = 100;
  var queuesElement = document.getElementById('queues');
  var feed = document.querySelector('#feed tbody');
  var statusElement = document.getElementById('status');
  var feedState = document.getElementById('feed-state');
  var sources = {};
  var pending = null;

  function element(tag, text, className) {
    var node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (className) node.className = className;
    return node;
  }

  function cell(row, text, field, attention) {
    var node = element('td', text, attention ? 'attention' : '');
    if (field) node.dataset.field = field;
    row.appendChild(node);
  }

  function age(ms) {
    if (ms === null || ms === undefined) return '–';
    if (ms < 1000) return ms + ' ms';
    if (ms < 120000) return Math.round(ms / 1000) + ' s';
    if (ms < 7200000) return Math.round(ms / 60000) + ' min';
    return Math.round(ms / 3600000) + ' h';
  }

  function renderQueue(queue) {
    var section = element('section');
    section.dataset.queue = queue.queue;
    var title = element('h2', queue.queue);
    if (queue.paused.length > 0) title.appendChild(element('span', queue.paused.indexOf('*') >= 0 ? 'paused' : 'paused: ' + queue.paused.join(', '), 'badge'));
    section.appendChild(title);
    var hour = queue.counts.last_hour;
    section.appendChild(element('p', 'last hour: ' + hour.enqueued + ' enqueued, ' + hour.completed + ' completed, ' + hour.failed + ' failed, ' + hour.dead + ' dead, ' + hour.cancelled + ' cancelled · delayed now ' + queue.delayed + ' · dead letters ' + queue.dead, 'summary'));
    var table = element('table');
    var head = element('tr');
    ['stage', 'waiting', 'held', 'consumers', 'oldest held', 'completed (1 h)', 'failed (1 h)'].forEach(function (name) { head.appendChild(element('th', name)); });
    table.appendChild(element('thead')).appendChild(head);
    var body = table.appendChild(element('tbody'));
    queue.stages.forEach(function (stage) {
      var row = element('tr');
      row.dataset.stage = stage.name;
      cell(row, stage.name + (stage.paused ? ' (paused)' : ''), 'name');
      cell(row, stage.waiting_tasks === null ? 'over 1000' : stage.waiting_tasks, 'waiting');
      cell(row, stage.pending_tasks, 'held');
      cell(row, stage.consumers, 'consumers', stage.consumers === 0 && (stage.waiting_tasks === null || stage.waiting_tasks > 0));
      cell(row, stage.oldest_pending ? age(stage.oldest_pending.idle_ms) + ' idle' : '–', 'oldest');
      cell(row, stage.counts.last_hour.completed, 'completed');
      cell(row, stage.counts.last_hour.failed, 'failed', stage.counts.last_hour.failed > 0);
      body.appendChild(row);
    });
    section.appendChild(table);
    return section;
  }

  function refresh() {
    return fetch('/queues', { headers: { accept: 'application/json' } })
      .then(function (response) {
        if (!response.ok) throw new Error('GET /queues answered ' + response.status);
        return response.json();
      })
      .then(function (body) {
        queuesElement.replaceChildren.apply(queuesElement, body.queues.map(renderQueue));
        body.queues.forEach(function (queue) { listen(queue.queue); });
        statusElement.textContent = 'updated ' + new Date().toLocaleTimeString();
        statusElement.className = '';
      })
      .catch(function (error) {
        statusElement.textContent = 'cannot read the queues (' + error.message + '); trying again';
        statusElement.className = 'error';
      });
  }

  function refreshSoon() {
    if (pending !== null) return;
    pending = setTimeout(function () { pending = null; refresh(); }, 300);
  }

  function showEvent(queue, name, event) {
    var row = element('tr', undefined, 'event-' + name);
    row.dataset.job = event.job_id || '';
    cell(row, new Date(event.at || Date.now()).toLocaleTimeString());
    cell(row, queue);
    cell(row, name);
    var job = element('td');
    if (event.job_id) {
      var link = element('a', event.job_id);
      link.href = '/jobs/' + encodeURIComponent(event.job_id);
      job.appendChild(link);
    }
    row.appendChild(job);
    cell(row, event.stage || '');
    feed.insertBefore(row, feed.firstChild);
    while (feed.children.length > MAX_ROWS) feed.removeChild(feed.lastChild);
  }

  function updateFeedState() {
    var names = Object.keys(sources);
    var open = names.filter(function (name) { return sources[name].readyState === EventSource.OPEN; });
    feedState.textContent = open.length === names.length ? '(live)' : '(connecting ' + (names.length - open.length) + ' of ' + names.length + ')';
  }

  function listen(queue) {
    if (sources[queue]) return;
    var source = new EventSource('/events?queue=' + encodeURIComponent(queue));
    sources[queue] = source;
    source.addEventListener('open', updateFeedState);
    source.addEventListener('error', updateFeedState);
    EVENTS.forEach(function (name) {
      source.addEventListener(name, function (message) {
        var event = {};
        try { event = JSON.parse(message.data); } catch (ignored) { return; }
        if (name !== 'resync') showEvent(queue, name, event);
        if (name !== 'progress') refreshSoon();
      });
    });
  }

  refresh();
  setInterval(refresh, 5000);
})();
`;
