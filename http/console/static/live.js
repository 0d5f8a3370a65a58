// The live page: reads the event stream with EventSource (which sends the
// sign-in cookie and resumes with Last-Event-ID after a disconnect) and
// adds a row per event. Every value is set as text, never as HTML.
(function () {
  'use strict';
  var form = document.getElementById('filters');
  var rows = document.getElementById('rows');
  var statusEl = document.getElementById('status');
  var rateEl = document.getElementById('rate');
  var countEl = document.getElementById('count');
  var heldEl = document.getElementById('held');
  var pauseBtn = document.getElementById('pause');
  var MAX_ROWS = 500;
  // A token bound to sources cannot open a visitor's session page.
  var plainSessions = document.getElementById('events').hasAttribute('data-plain-sessions');
  var es = null;
  var paused = false;
  var held = [];
  var arrivals = [];

  function setStatus(text) { statusEl.textContent = text; }

  function query() {
    var p = new URLSearchParams();
    ['source', 'type', 'session'].forEach(function (k) {
      var v = form.elements[k].value.trim();
      if (v) { p.set(k, v); }
    });
    return p.toString();
  }

  // visible shows the characters that turn the reading direction as
  // their code points, so that a value cannot read otherwise than it is.
  function visible(text) {
    return String(text).replace(/[\u202A-\u202E\u2066-\u2069]/g, function (c) {
      return '[U+' + c.charCodeAt(0).toString(16).toUpperCase() + ']';
    });
  }

  function cell(tr, text, cls) {
    var td = document.createElement('td');
    td.textContent = visible(text);
    if (cls) { td.className = cls; }
    tr.appendChild(td);
    return td;
  }

  function linkCell(tr, href, text) {
    var td = document.createElement('td');
    if (text) {
      var a = document.createElement('a');
      a.href = href;
      a.textContent = visible(text);
      td.appendChild(a);
    } else {
      td.textContent = '-';
    }
    tr.appendChild(td);
    return td;
  }

  function show(e) {
    var tr = document.createElement('tr');
    tr.className = 'new';
    tr.dataset.id = e.id;
    var at = String(e.inserted_at || '');
    cell(tr, at.slice(11, 23), 'time').title = at;
    linkCell(tr, '/console/events/' + encodeURIComponent(e.id), e.id.length > 13 ? e.id.slice(0, 8) + '…' + e.id.slice(-4) : e.id).title = e.id;
    cell(tr, e.type, 'name');
    cell(tr, e.source_id, 'name');
    if (plainSessions) {
      cell(tr, e.session_id || '-', 'name');
    } else {
      linkCell(tr, '/console/sessions/' + encodeURIComponent(e.session_id || ''), e.session_id).className = 'name';
    }
    var props = JSON.stringify(e.properties);
    cell(tr, props.length > 160 ? props.slice(0, 157) + '…' : props, 'props');
    rows.insertBefore(tr, rows.firstChild);
    while (rows.rows.length > MAX_ROWS) { rows.deleteRow(-1); }
    countEl.textContent = String(rows.rows.length);
  }

  function onEvent(msg) {
    var e;
    try { e = JSON.parse(msg.data); } catch (err) { return; }
    arrivals.push(Date.now());
    if (paused) {
      held.push(e);
      if (held.length > MAX_ROWS) { held.shift(); }
      heldEl.textContent = ' · ' + held.length + ' held while paused';
      return;
    }
    show(e);
  }

  // explain asks the stream why it refused, since EventSource does not
  // say: a bad filter is named, a signed-out browser sent to sign in.
  function explain() {
    var ctl = new AbortController();
    fetch('/api/v1/events/stream?' + query(), { signal: ctl.signal, credentials: 'same-origin' }).then(function (resp) {
      if (resp.ok) {
        ctl.abort();
        setStatus('disconnected: reload this page');
        return;
      }
      if (resp.status === 401) {
        setStatus('disconnected: sign in again, then reload this page');
        return;
      }
      return resp.json().then(function (body) {
        setStatus('refused: ' + visible((body && body.error && body.error.message) || resp.statusText));
      });
    }).catch(function () {
      setStatus('disconnected: the collector cannot be reached');
    });
  }

  function connect() {
    if (es) { es.close(); }
    setStatus('connecting…');
    es = new EventSource('/api/v1/events/stream?' + query());
    es.onopen = function () { setStatus('live'); };
    es.onmessage = onEvent;
    es.onerror = function () {
      if (es.readyState === EventSource.CLOSED) {
        explain();
      } else {
        setStatus('reconnecting…');
      }
    };
    es.addEventListener('gap', function () {
      setStatus('live (some events may have been missed while disconnected)');
    });
    es.addEventListener('end', function (msg) {
      var why = '';
      try { why = JSON.parse(msg.data).reason; } catch (err) { why = 'ended'; }
      setStatus('reconnecting (' + why + ')…');
    });
  }

  form.addEventListener('submit', function (ev) {
    ev.preventDefault();
    var q = query();
    history.replaceState(null, '', location.pathname + (q ? '?' + q : ''));
    rows.textContent = '';
    countEl.textContent = '0';
    var err = document.getElementById('filter-error');
    if (err) { err.remove(); }
    connect();
  });

  pauseBtn.addEventListener('click', function () {
    paused = !paused;
    pauseBtn.textContent = paused ? 'Resume' : 'Pause';
    pauseBtn.setAttribute('aria-pressed', String(paused));
    if (!paused) {
      held.forEach(show);
      held = [];
      heldEl.textContent = '';
    }
  });

  setInterval(function () {
    var now = Date.now();
    arrivals = arrivals.filter(function (t) { return now - t < 5000; });
    rateEl.textContent = (arrivals.length / 5).toFixed(1);
  }, 1000);

  countEl.textContent = String(rows.rows.length);
  connect();
}());
