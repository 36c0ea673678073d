/**
 * The dashboard's script, sent as is to browsers (plain ES2020, no build step). It reads
 * `GET /queues` every 5 s and soon after each event (one read at a time, given up after 5 s), and
 * keeps one EventSource for every queue (a browser keeps 6 connections to a host: a stream per
 * queue, in two tabs, left none for their reads). The browser reconnects a dropped stream, this
 * script one the API refused; a `resync` event after the API lost its subscription reads the
 * queues again and says, for a while, that events may be missing. Everything shown goes through textContent: job IDs and stage names are data, not HTML.
 * Actions send the admin token typed in (kept in sessionStorage: this tab only) as a bearer
 * token, and show the API's problem detail when it refuses. Each read patches the page in place
 * (see patch): nodes, and so a button being clicked, a focus or a table scrolled sideways, stay;
 * a button says what it does in data attributes, read when it is clicked.
 */
export const DASHBOARD_SCRIPT = String.raw`'use strict';
(function () {
  var EVENTS = ['queued', 'active', 'progress', 'stage-completed', 'completed', 'failed', 'stalled', 'retrying', 'delayed', 'released', 'dead', 'cancelled', 'resync'];
  var MAX_ROWS = 100;
  var queuesElement = document.getElementById('queues');
  var feed = document.querySelector('#feed tbody');
  var statusElement = document.getElementById('status');
  var feedState = document.getElementById('feed-state');
  var tokenInput = document.getElementById('token');
  var updatedElement = document.getElementById('updated');
  var source = null;
  var listenedTo = '';
  var pending = null;
  var reading = false;
  var again = false;
  var queuesRead = false;
  var missedUntil = 0;
  var READ_TIMEOUT_MS = 5000;
  // The API says in the page whether it has ADMIN_TOKEN: without it, pause and resume are off.
  var ADMIN_OFF = 'Pause and resume are off: the API was started without ADMIN_TOKEN.';
  var adminOff = document.body.dataset.admin === 'off';
  if (adminOff) {
    tokenInput.disabled = true;
    tokenInput.placeholder = 'pause and resume are off (no ADMIN_TOKEN)';
    // Said in the page too: a disabled field's placeholder and a disabled button's title reach
    // neither the keyboard nor most screen readers.
    document.getElementById('admin-note').textContent = ADMIN_OFF;
  }
  tokenInput.value = sessionStorage.getItem('conveyor-admin-token') || '';
  tokenInput.addEventListener('change', function () { sessionStorage.setItem('conveyor-admin-token', tokenInput.value); });

  function element(tag, text, className) {
    var node = document.createElement(tag);
    // Only text and numbers: an event anyone could PUBLISH may hold anything (an object whose
    // toString throws).
    if (typeof text === 'string' || typeof text === 'number') node.textContent = String(text);
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

  // What an action answered stays in view for 8 s before the refreshes' 'updated ...' take over.
  var heldUntil = 0;
  function say(text, className, holdMs) {
    if (!holdMs && Date.now() < heldUntil) return;
    heldUntil = holdMs ? Date.now() + holdMs : heldUntil;
    statusElement.textContent = text;
    statusElement.className = className;
  }

  // A refusal as an Error: the detail of the API's problem (RFC 9457) when it sent one.
  function refusal(response, request) {
    return response.json().catch(function () { return {}; }).then(function (problem) {
      var error = new Error(problem.detail || request + ' answered ' + response.status + '.');
      error.status = response.status;
      error.type = problem.type;
      throw error;
    });
  }

  // Admin routes exist only when the API has ADMIN_TOKEN (a 404 without it), and take only that token.
  function adminRefusal(error) {
    if (error.status === 404 && error.type === '/problems/not-found') return ADMIN_OFF;
    if (error.status === 401 && tokenInput.value) return 'The API refused the admin token typed in: it is not the ADMIN_TOKEN the API was started with.';
    if (error.status === 401) return 'Type the admin token (the ADMIN_TOKEN the API was started with) to pause and resume.';
    return error.message;
  }

  function act(path, body, done, admin) {
    var headers = { 'content-type': 'application/json' };
    if (tokenInput.value) headers.authorization = 'Bearer ' + tokenInput.value;
    fetch(path, { method: 'POST', headers: headers, body: JSON.stringify(body) })
      .then(function (response) {
        if (!response.ok) return refusal(response, 'POST ' + path);
        return response.json().then(function (answer) {
          say(done(answer), 'done', 8000);
          refreshSoon();
        });
      })
      .catch(function (error) {
        var reason = error.status ? error.message : 'the API does not answer (' + error.message + ').';
        say(admin ? adminRefusal(error) : reason, 'error', 8000);
      });
  }

  // The visible label stays short; the accessible name says what the button acts on. The key
  // stays the same when the label changes (pause, then resume), so the focus follows it.
  function button(label, name, key, action, queue, stage) {
    var node = element('button', label);
    node.type = 'button';
    node.setAttribute('aria-label', name);
    node.dataset.control = key;
    node.dataset.action = action;
    node.dataset.queue = queue;
    if (stage !== undefined) node.dataset.stage = stage;
    return node;
  }

  function pauseButton(queue, stage, paused) {
    var target = stage === undefined ? queue : queue + ' stage ' + stage;
    var verb = paused ? 'resume' : 'pause';
    var node = button(verb, verb + ' ' + target, 'pause ' + target, verb, queue, stage);
    if (adminOff) {
      node.disabled = true;
      node.title = ADMIN_OFF;
    }
    return node;
  }

  // One listener for every button, reading what to do from the button clicked.
  queuesElement.addEventListener('click', function (event) {
    var node = event.target.closest('button[data-action]');
    if (!node || node.disabled) return;
    var queue = node.dataset.queue;
    var stage = node.dataset.stage;
    var action = node.dataset.action;
    if (action === 'retry') {
      // All of them at once, and they may well die again: asked first, with where to look at them.
      var count = node.dataset.count;
      var most = Math.min(Number(count), 1000);
      if (!window.confirm('Queue again ' + (most < Number(count) ? 'the oldest ' + most + ' of the ' : 'the ') + count + ' dead-lettered job(s) of ' + queue + '? Their errors are listed at /queues/' + queue + '/dead (the dead letters link).')) return;
      act('/queues/' + encodeURIComponent(queue) + '/dead/retry', {}, function (answer) { return queue + ': ' + answer.retried + ' dead-lettered job(s) queued again'; });
      return;
    }
    var what = stage === undefined ? queue : queue + ' ' + stage;
    act('/queues/' + encodeURIComponent(queue) + '/' + action, stage === undefined ? {} : { stage: stage }, function () { return what + (action === 'resume' ? ' resumed' : ' paused'); }, true);
  });

  // A stage's waiting count as shown ('over 1000' past what GET /queues counts), its consumers
  // (the live ones, and how many of the group's are gone: dead workers stay in it for an hour),
  // and whether its jobs wait with no live consumer to read them.
  function waitingText(stage) {
    return stage.waiting_tasks === null ? 'over 1000' : stage.waiting_tasks;
  }

  function consumersText(stage) {
    var gone = stage.consumers - stage.live_consumers;
    var text = stage.live_consumers + (gone > 0 ? ' (+' + gone + ' gone)' : '');
    // Said in words too, not by the cell's colour alone.
    return unread(stage) ? text + ' · nobody reading' : text;
  }

  function unread(stage) {
    return stage.live_consumers === 0 && (stage.waiting_tasks === null || stage.waiting_tasks > 0);
  }

  // A table in a box of its own that scrolls sideways on a narrow screen.
  function scrolling(table) {
    var box = element('div', undefined, 'scroll');
    box.appendChild(table);
    return box;
  }

  function renderQueue(queue) {
    var section = element('section');
    section.dataset.queue = queue.queue;
    var title = element('h2', queue.queue);
    var wholeQueuePaused = queue.paused.indexOf('*') >= 0;
    if (queue.paused.length > 0) title.appendChild(element('span', wholeQueuePaused ? 'paused' : 'paused: ' + queue.paused.join(', '), 'badge'));
    title.appendChild(pauseButton(queue.queue, undefined, wholeQueuePaused));
    section.appendChild(title);
    var hour = queue.counts.last_hour;
    var summary = element('p', 'last hour: ' + hour.enqueued + ' enqueued, ' + hour.completed + ' completed, ' + hour.failed + ' failed, ' + hour.dead + ' dead, ' + hour.cancelled + ' cancelled · delayed now ' + queue.delayed + ' · ', 'summary');
    if (queue.dead > 0) {
      // The dead letters with their errors, as the API lists them (JSON).
      var deadLink = element('a', 'dead letters ' + queue.dead);
      deadLink.href = '/queues/' + encodeURIComponent(queue.queue) + '/dead';
      summary.appendChild(deadLink);
      var retry = button('retry dead letters', 'retry dead letters of ' + queue.queue, 'retry ' + queue.queue, 'retry', queue.queue);
      retry.dataset.count = String(queue.dead);
      summary.appendChild(retry);
    } else {
      summary.appendChild(document.createTextNode('dead letters 0'));
    }
    section.appendChild(summary);
    var table = element('table');
    var head = element('tr');
    ['stage', 'waiting', 'held', 'consumers', 'oldest held', 'completed (1 h)', 'failed (1 h)', 'actions'].forEach(function (name) { head.appendChild(element('th', name)); });
    table.appendChild(element('thead')).appendChild(head);
    var body = table.appendChild(element('tbody'));
    queue.stages.forEach(function (stage) {
      var row = element('tr');
      row.dataset.stage = stage.name;
      cell(row, stage.name + (stage.paused ? ' (paused)' : ''), 'name');
      cell(row, waitingText(stage), 'waiting');
      cell(row, stage.pending_tasks, 'held');
      cell(row, consumersText(stage), 'consumers', unread(stage));
      cell(row, stage.oldest_pending ? age(stage.oldest_pending.idle_ms) + ' idle' : '–', 'oldest');
      cell(row, stage.counts.last_hour.completed, 'completed');
      cell(row, stage.counts.last_hour.failed, 'failed', stage.counts.last_hour.failed > 0);
      var actions = element('td');
      if (!wholeQueuePaused) actions.appendChild(pauseButton(queue.queue, stage.name, stage.paused));
      row.appendChild(actions);
      body.appendChild(row);
    });
    section.appendChild(scrolling(table));
    if (queue.partitions) section.appendChild(scrolling(renderPartitions(queue)));
    return section;
  }

  // A partitioned queue (QUEUE_PARTITIONS): the table above sums its partitions (and the queue's
  // own streams, listed first); this one shows each, so that a partition no worker reads, whose
  // jobs wait, stands out.
  function renderPartitions(queue) {
    var table = element('table', undefined, 'partitions');
    var head = element('tr');
    head.appendChild(element('th', 'partition'));
    queue.stages.forEach(function (stage) { head.appendChild(element('th', stage.name + ': waiting · held · consumers')); });
    table.appendChild(element('thead')).appendChild(head);
    var body = table.appendChild(element('tbody'));
    queue.partitions.forEach(function (part) {
      var row = element('tr');
      row.dataset.partition = part.queue;
      cell(row, part.queue === queue.queue ? part.queue + ' (own streams)' : part.queue, 'name');
      part.stages.forEach(function (stage) {
        cell(row, waitingText(stage) + ' · ' + stage.pending_tasks + ' · ' + consumersText(stage), stage.name, unread(stage));
      });
      body.appendChild(row);
    });
    return table;
  }

  // Makes the current node what the next one is, keeping every node of the same kind in its place: its text,
  // attributes and children are updated. Replacing the page on each read (every 5 s, and soon
  // after each event: 3 a second under load) lost clicks whose button was replaced between press
  // and release (11 in 20 in a test), and scrolled the tables back on a narrow screen.
  function patch(current, next) {
    if (current.nodeType !== next.nodeType || current.nodeName !== next.nodeName) {
      current.replaceWith(next);
      return;
    }
    if (current.nodeType !== Node.ELEMENT_NODE) {
      if (current.nodeValue !== next.nodeValue) current.nodeValue = next.nodeValue;
      return;
    }
    Array.prototype.slice.call(current.attributes).forEach(function (attribute) {
      if (!next.hasAttribute(attribute.name)) current.removeAttribute(attribute.name);
    });
    Array.prototype.slice.call(next.attributes).forEach(function (attribute) {
      if (current.getAttribute(attribute.name) !== attribute.value) current.setAttribute(attribute.name, attribute.value);
    });
    patchChildren(current, Array.prototype.slice.call(next.childNodes));
  }

  // A node that came or went before others keeps them in place: a queue's title gains its
  // 'paused' badge before its button when the queue is paused, and loses it when resumed; matched
  // by index alone, the button, clicked and focused, was replaced by the badge.
  function patchChildren(parent, children) {
    children.forEach(function (child, i) {
      var current = parent.childNodes[i];
      if (current && !sameKind(current, child)) {
        var following = children[i + 1];
        if (current.nextSibling && sameKind(current.nextSibling, child) && !(following && sameKind(current, following))) {
          // current is gone from the next page: the one after it is this child.
          parent.removeChild(current);
          current = parent.childNodes[i];
        } else if (following && sameKind(current, following)) {
          // child is new: current is the one after it.
          parent.insertBefore(child, current);
          return;
        }
      }
      if (current) patch(current, child);
      else parent.appendChild(child);
    });
    while (parent.childNodes.length > children.length) parent.removeChild(parent.lastChild);
  }

  function sameKind(current, next) {
    return current.nodeType === next.nodeType && current.nodeName === next.nodeName;
  }

  // The queue a node of the page is in (null outside one): what a section or a button says.
  function queueOf(node) {
    var section = node.closest('section[data-queue]');
    return section ? section.dataset.queue : node.dataset.queue || null;
  }

  // Shows the queues; a focused node that had to be replaced or went (a queue's set of stages
  // changed, its stage buttons went while the whole queue is paused) hands the focus to its
  // successor (the same key), or to the first button of its queue. What it was is read before
  // the patch: once out of the page it is in no section.
  function render(queues) {
    var focused = queuesElement.contains(document.activeElement) ? document.activeElement : null;
    var key = focused ? focused.dataset.control : undefined;
    var queue = focused ? queueOf(focused) : null;
    patchChildren(queuesElement, queues.map(renderQueue));
    if (!focused || focused.isConnected) return;
    var controls = Array.prototype.slice.call(queuesElement.querySelectorAll('button[data-control]'));
    var successor = (key !== undefined && controls.find(function (node) { return node.dataset.control === key; })) ||
      controls.find(function (node) { return queueOf(node) === queue; });
    if (successor) successor.focus();
  }

  // One read at a time: an API that does not answer is given up on after READ_TIMEOUT_MS, and
  // reads do not pile up behind it.
  function refresh() {
    if (reading) {
      // Asked during a read (an event came): one more read once it is done, or the figures
      // would wait for the next 5 s.
      again = true;
      return;
    }
    reading = true;
    var abort = new AbortController();
    var timer = setTimeout(function () { abort.abort(); }, READ_TIMEOUT_MS);
    return fetch('/queues', { headers: { accept: 'application/json' }, signal: abort.signal })
      .then(function (response) {
        if (!response.ok) return refusal(response, 'GET /queues');
        return response.json();
      })
      .then(function (body) {
        render(body.queues);
        listen(body.queues.map(function (queue) { return queue.queue; }));
        queuesRead = true;
        updateFeedState();
        // Not in the status line: a live region that changed every 5 s would be read out every 5 s.
        updatedElement.textContent = 'updated ' + new Date().toLocaleTimeString();
        say('', '');
      })
      .catch(function (error) {
        // The API's events come from the Redis it cannot read now: the feed is stalled too.
        queuesRead = false;
        updateFeedState();
        // A problem's advice to API clients (Retry-After) is not for the page's reader.
        var reason = error.status ? error.message.replace(/[^.]*Retry-After[^.]*\.\s*/g, '') : abort.signal.aborted ? 'the API does not answer (no answer in ' + READ_TIMEOUT_MS / 1000 + ' s).' : 'the API does not answer (' + error.message + ').';
        say('cannot read the queues: ' + reason + ' Trying again every 5 s.', 'error');
      })
      .finally(function () {
        clearTimeout(timer);
        reading = false;
        if (again) {
          again = false;
          refreshSoon();
        }
      });
  }

  function refreshSoon() {
    if (pending !== null) return;
    pending = setTimeout(function () { pending = null; refresh(); }, 300);
  }

  function text(value) {
    return typeof value === 'string' ? value : '';
  }

  // What went wrong (failed, dead) or how far a job is (progress), cut short.
  function eventDetail(name, event, most) {
    most = most || 160;
    var said = '';
    var error = event.error;
    if (error && typeof error === 'object') said = [text(error.code), text(error.message)].filter(Boolean).join(': ');
    else if (name === 'progress' && typeof event.percent === 'number') said = event.percent + '%' + (text(event.message) ? ' ' + text(event.message) : '');
    return said.length > most ? said.slice(0, most - 1) + '…' : said;
  }

  function showEvent(name, event) {
    if (feed.firstElementChild && feed.firstElementChild.classList.contains('empty')) feed.removeChild(feed.firstElementChild);
    var row = element('tr', undefined, 'event-' + name);
    // Anyone who can PUBLISH on the channel can send anything: only text is shown, cut short.
    var jobId = text(event.job_id);
    row.dataset.job = jobId;
    cell(row, new Date(typeof event.at === 'number' && isFinite(new Date(event.at).getTime()) ? event.at : Date.now()).toLocaleTimeString());
    cell(row, text(event.queue));
    cell(row, name);
    var job = element('td');
    if (jobId) {
      var link = element('a', jobId.length > 120 ? jobId.slice(0, 119) + '…' : jobId);
      link.href = '/jobs/' + encodeURIComponent(jobId);
      job.appendChild(link);
    }
    row.appendChild(job);
    cell(row, text(event.stage));
    cell(row, eventDetail(name, event), 'detail');
    row.lastChild.title = eventDetail(name, event, 1000);
    feed.insertBefore(row, feed.firstChild);
    // The oldest rows go, but not one holding the focus (a job link tabbed to): it stays until the focus leaves.
    while (feed.children.length > MAX_ROWS) {
      var oldest = feed.lastChild;
      feed.removeChild(oldest.contains(document.activeElement) ? oldest.previousSibling : oldest);
    }
  }

  function updateFeedState() {
    if (source && source.readyState !== EventSource.OPEN) feedState.textContent = '(not live: connecting)';
    else if (!queuesRead) feedState.textContent = '(not live)';
    else feedState.textContent = Date.now() < missedUntil ? '(live) · events may have been missed a moment ago' : '(live)';
  }

  // One stream for every queue; opened again when the queues change, or when the API refused it.
  function listen(queues) {
    var wanted = queues.join(',');
    if (source && source.readyState !== EventSource.CLOSED && listenedTo === wanted) return;
    if (source) source.close();
    listenedTo = wanted;
    var opened = new EventSource('/events?queue=' + encodeURIComponent(wanted));
    source = opened;
    opened.addEventListener('open', updateFeedState);
    opened.addEventListener('error', function () {
      updateFeedState();
      // A dropped stream is reopened by the browser; one the API refused (a 503 while Redis is
      // away) is closed for good, so it is opened again here, and the queues read again.
      if (opened.readyState !== EventSource.CLOSED || opened !== source) return;
      setTimeout(function () { if (opened === source) { listen(queues); refreshSoon(); } }, 3000);
    });
    EVENTS.forEach(function (name) {
      opened.addEventListener(name, function (message) {
        var event = {};
        try { event = JSON.parse(message.data); } catch (ignored) { return; }
        if (name === 'resync') {
          // The API lost its subscription for a moment: events published then are gone.
          missedUntil = Date.now() + 30000;
          updateFeedState();
          setTimeout(updateFeedState, 30100);
        } else showEvent(name, event);
        if (name !== 'progress') refreshSoon();
      });
    });
  }

  refresh();
  setInterval(refresh, 5000);
})();
`;
