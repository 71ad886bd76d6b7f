/* 人工坐席工作台: login, live queue, my cases, case view and actions.
 * No framework, no build step. Every piece of data reaches the page through
 * textContent (never as markup). State-changing requests carry the session's
 * CSRF token in X-CSRF-Token. */
(function () {
  'use strict';

  var POLL_MS = 30000;
  var STAGES = ['received', 'investigating', 'handling', 'feedback'];
  var SUMMARY_LABELS = {
    question: '客户问题', intent: '意图', answers: '机器人已答复',
    slots: '已收集信息', verified: '身份已核实'
  };

  var state = {
    me: null, csrf: null, current: null, ws: null, wsDelay: 1000,
    wsTimer: null, pollTimer: null, canned: [], agents: [], caseRead: 0,
    caseOwner: null, breachRead: 0
  };

  function $(id) { return document.getElementById(id); }

  function el(tag, text, className) {
    var node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (className) node.className = className;
    return node;
  }

  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }

  function show(node, visible) { node.hidden = !visible; }

  // "2026-11-27T10:05:00+08:00" -> "11-27 10:05" (already in the bank's timezone).
  function when(iso) { return iso ? iso.slice(5, 10) + ' ' + iso.slice(11, 16) : '—'; }

  // "2026-11-27T10:20:00+08:00" -> "10:20" (the bank's local time).
  function hhmm(iso) { return iso ? iso.slice(11, 16) : '—'; }

  function tag(text, extra) { return el('span', text, 'tag' + (extra ? ' ' + extra : '')); }

  function notify(message, isError) {
    var box = $('notice');
    box.textContent = message;
    box.className = 'notice' + (isError ? ' error' : '');
    show(box, true);
    clearTimeout(notify.timer);
    notify.timer = setTimeout(function () { show(box, false); }, 6000);
  }

  function HttpError(status, message) {
    this.status = status;
    this.message = message;
  }

  function api(method, path, body) {
    var init = { method: method, credentials: 'same-origin', cache: 'no-store',
                 headers: { Accept: 'application/json' } };
    if (method !== 'GET') {
      init.headers['X-CSRF-Token'] = state.csrf || '';
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body || {});
    }
    return fetch(path, init).then(function (response) {
      return response.json().catch(function () { return null; }).then(function (data) {
        if (response.status === 401) showLogin();
        if (!response.ok) {
          throw new HttpError(response.status,
            (data && data.error) || ('请求失败（' + response.status + '）'));
        }
        return data;
      });
    });
  }

  function failed(error) {
    if (error && error.status === 401) return;  // the login form is shown
    notify((error && error.message) || '网络异常，请稍后重试', true);
  }

  // --- login ------------------------------------------------------------------

  function showLogin() {
    state.me = null;
    state.csrf = null;
    stopLive();
    closeCase();
    state.breachRead++;  // a breach list still on its way is not shown
    ['queue', 'mine', 'all-cases', 'breaches'].forEach(function (id) { clear($(id)); });
    $('queue-count').textContent = '';
    $('all-count').textContent = '';
    $('breach-count').textContent = '';
    $('agent-name').textContent = '';
    $('agent-role').textContent = '';
    show($('all-card'), false);
    show($('breach-card'), false);
    show($('whoami'), false);
    show($('desk-view'), false);
    show($('login-view'), true);
  }

  function login(event) {
    event.preventDefault();
    var form = event.target;
    var error = $('login-error');
    error.textContent = '';
    fetch('/login', { credentials: 'same-origin', cache: 'no-store' })
      .then(function (response) { return response.json(); })
      .then(function (token) {
        var body = new URLSearchParams();
        body.set('username', form.username.value);
        body.set('password', form.password.value);
        body.set('csrf_token', token.csrf_token);
        return fetch('/login', { method: 'POST', body: body, credentials: 'same-origin' });
      })
      .then(function (response) {
        return response.json().then(function (data) {
          if (!response.ok) throw new HttpError(response.status, data.error);
          form.password.value = '';
          state.csrf = data.csrf_token;
          start();
        });
      })
      .catch(function (e) { error.textContent = (e && e.message) || '登录失败，请稍后重试'; });
  }

  function logout() {
    api('POST', '/logout').then(showLogin, failed);
  }

  function start() {
    api('GET', '/api/me').then(function (me) {
      state.me = me;
      state.csrf = me.csrf_token;
      $('agent-name').textContent = me.display_name + '（' + me.username + '）';
      $('agent-role').textContent = me.role.label;
      show($('all-card'), !!me.is_supervisor);
      show($('breach-card'), !!me.is_supervisor);
      show($('login-view'), false);
      show($('whoami'), true);
      show($('desk-view'), true);
      loadCanned();
      loadAgents();
      refresh();
      startLive();
    }).catch(function (error) {
      if (error.status !== 401) failed(error);
    });
  }

  // --- live updates -----------------------------------------------------------

  function startLive() {
    stopLive();
    state.pollTimer = setInterval(function () {
      refresh();
      loadAgents(true);
    }, POLL_MS);
    connect();
  }

  function stopLive() {
    clearInterval(state.pollTimer);
    clearTimeout(state.wsTimer);
    if (state.ws) {
      state.ws.onclose = null;
      state.ws.close();
      state.ws = null;
    }
    $('live').textContent = '未连接';
    $('live').className = 'live';
  }

  function connect() {
    var scheme = location.protocol === 'https:' ? 'wss://' : 'ws://';
    var ws = new WebSocket(scheme + location.host + '/ws');
    state.ws = ws;
    ws.onopen = function () {
      state.wsDelay = 1000;
      $('live').textContent = '实时';
      $('live').className = 'live on';
      loadAgents(true);  // who is online, now this agent is too
    };
    ws.onmessage = function (event) {
      var data;
      try { data = JSON.parse(event.data); } catch (e) { return; }
      if (data.type === 'queue_changed') {
        loadQueue();
        loadAll();
        loadBreaches();
      }
      if (data.type === 'case_changed') {
        loadMine();
        loadAll();
        loadBreaches();
        if (data.number === state.current) reloadCase(data.number);
      }
      if (data.type === 'sla_warning') {
        notify('工单 ' + data.number + ' 即将超过首次响应时限，请尽快回复客户', true);
      }
      if (data.type === 'sla_breach' && state.me && state.me.is_supervisor) {
        notify('工单 ' + data.number + ' 已超过首次响应时限，请督办', true);
        loadBreaches();
      }
    };
    ws.onclose = function () {
      $('live').textContent = '重新连接中…';
      $('live').className = 'live';
      if (!state.me) return;
      state.wsTimer = setTimeout(function () {
        // A refused reconnect (logged out elsewhere) shows the login form.
        api('GET', '/api/me').then(connect, function () {});
      }, state.wsDelay);
      state.wsDelay = Math.min(state.wsDelay * 2, 30000);
    };
  }

  function refresh() {
    loadQueue();
    loadMine();
    loadAll();
    loadBreaches();
  }

  // --- lists ------------------------------------------------------------------

  // One case in a list: its number and tags, then lines of text; a click opens it.
  function caseItem(item, tags, lines) {
    var li = el('li');
    li.dataset.number = item.number;
    if (item.number === state.current) li.className = 'selected';
    var line = el('div', null, 'line');
    line.appendChild(el('strong', item.number));
    tags.forEach(function (node) { if (node) line.appendChild(node); });
    li.appendChild(line);
    lines.forEach(function (node) { li.appendChild(node); });
    li.addEventListener('click', function () { openCase(item.number); });
    return li;
  }

  // Fill list ``id`` with ``cases`` built by ``build``; its count and "empty" note follow.
  function fillList(id, cases, build, countId, emptyId) {
    var list = $(id);
    clear(list);
    cases.forEach(function (item) { list.appendChild(build(item)); });
    if (countId) $(countId).textContent = '（' + cases.length + '）';
    show($(emptyId), cases.length === 0);
  }

  function priorityTag(item) {
    return tag(item.priority.label, item.priority.value === 'high' ? 'high' : '');
  }

  function loadQueue() {
    api('GET', '/api/queue').then(function (data) {
      fillList('queue', data.cases, function (item) {
        var li = caseItem(item, [priorityTag(item), tag(item.reason.label), tag(item.sla.label, item.sla.value)], [
          el('div', '等待 ' + item.waiting_minutes + ' 分钟 · ' + item.channel +
            (item.off_hours ? ' · 非服务时间' : ''), 'muted'),
          el('div', item.summary, 'summary'),
        ]);
        var button = el('button', '接入');
        button.type = 'button';
        button.addEventListener('click', function (event) {
          event.stopPropagation();
          claim(item.number);
        });
        li.appendChild(button);
        return li;
      }, 'queue-count', 'queue-empty');
    }, failed);
  }

  function loadMine() {
    api('GET', '/api/cases/mine').then(function (data) {
      fillList('mine', data.cases, function (item) {
        return caseItem(item, [
          tag(item.stage.label),
          tag(item.sla.label, item.sla.value),
          item.my_role !== 'owner' ? tag('协办') : null,
        ], [
          el('div', '首次响应时限 ' + when(item.due), 'muted'),
          el('div', item.summary, 'summary'),
        ]);
      }, null, 'mine-empty');
    }, failed);
  }

  // Supervisors only: the newest cases of every status and every agent.
  function loadAll() {
    if (!state.me || !state.me.is_supervisor) return;
    api('GET', '/api/cases').then(function (data) {
      fillList('all-cases', data.cases, function (item) {
        return caseItem(item, [tag(item.status.label), priorityTag(item), tag(item.reason.label)], [
          el('div', '首问责任人 ' + who(item.owner) + ' · 当前处理人 ' +
            who(item.handler) + ' · 转入 ' + when(item.created_at), 'muted'),
        ]);
      }, 'all-count', 'all-empty');
    }, failed);
  }

  // Supervisors only: cases still unanswered after their first-response deadline.
  // Several events may ask at once; only the newest answer is shown.
  function loadBreaches() {
    if (!state.me || !state.me.is_supervisor) return;
    var read = ++state.breachRead;
    api('GET', '/api/cases/breaches').then(function (data) {
      if (read !== state.breachRead) return;
      fillList('breaches', data.cases, function (item) {
        return caseItem(item, [
          tag(item.reason.label),
          priorityTag(item),
          item.escalated_at ? tag('已升级', 'breached') : null,
        ], [
          el('div', (item.owner ? '首问责任人 ' + item.owner.display_name : '未接入') +
            ' · 首次响应时限 ' + hhmm(item.due), 'muted'),
        ]);
      }, 'breach-count', 'breach-empty');
    }, failed);
  }

  function loadCanned() {
    api('GET', '/api/canned-replies').then(function (data) {
      state.canned = data.replies;
      var select = $('canned');
      while (select.options.length > 1) select.remove(1);
      data.replies.forEach(function (reply, index) {
        var option = el('option', reply.title);
        option.value = String(index);
        select.appendChild(option);
      });
    }, failed);
  }

  // Colleagues, and whether each has the console open (在线) right now. The
  // poll reloads them: ``keepChoice`` keeps a colleague already chosen.
  function loadAgents(keepChoice) {
    api('GET', '/api/agents').then(function (data) {
      state.agents = data.agents;
      ['transfer-to', 'reassign-to'].forEach(function (id) {
        var select = $(id);
        var chosen = select.value;
        clear(select);
        if (id === 'reassign-to') {
          var placeholder = el('option', '选择新的责任人…');
          placeholder.value = '';
          select.appendChild(placeholder);
        }
        data.agents.forEach(function (agent) {
          var option = el('option', agent.display_name + '（' + agent.username + '）' +
            (agent.online ? ' · 在线' : ' · 离线'));
          option.value = agent.username;
          select.appendChild(option);
        });
        if (keepChoice) select.value = chosen;
        if (select.selectedIndex < 0) select.selectedIndex = 0;
      });
      resetReassign(keepChoice);
    }, failed);
  }

  // A reassignment is a deliberate choice: nothing is preselected, and the
  // current owner (who cannot be the new one) is not offered. A live update of
  // the same case keeps a choice already made, unless it is now the owner.
  function resetReassign(keepChoice) {
    var select = $('reassign-to');
    Array.prototype.forEach.call(select.options, function (option) {
      option.disabled = option.value !== '' && option.value === state.caseOwner;
    });
    if (!keepChoice || !select.value || select.value === state.caseOwner) select.value = '';
  }

  // --- one case -----------------------------------------------------------------

  function readCase(number) {
    var read = ++state.caseRead;
    return api('GET', '/api/cases/' + encodeURIComponent(number)).then(function (data) {
      if (read === state.caseRead) renderCase(data.case);
    });
  }

  function openCase(number) {
    return readCase(number).catch(failed);
  }

  // The case on screen changed: read it again. When this agent may no longer
  // see it (a colleague claimed it first, a supervisor reassigned it), its
  // stale copy and buttons leave the screen.
  function reloadCase(number) {
    return readCase(number).catch(function (error) {
      if (error && (error.status === 403 || error.status === 404) && state.current === number) {
        closeCase();
        notify('工单 ' + number + ' 已不在您的处理范围内：' + error.message, true);
        return;
      }
      failed(error);
    });
  }

  function closeCase() {
    state.current = null;
    state.caseOwner = null;
    state.caseRead++;
    ['case-tags', 'case-meta', 'case-summary', 'transcript', 'events'].forEach(function (id) {
      clear($(id));
    });
    $('case-title').textContent = '';
    show($('case'), false);
    show($('case-empty'), true);
  }

  function who(agent) { return agent ? agent.display_name : '—'; }

  function addMeta(list, term, value) {
    list.appendChild(el('dt', term));
    list.appendChild(el('dd', value === null || value === undefined || value === '' ? '—' : value));
  }

  function summaryValue(value) {
    if (typeof value === 'boolean') return value ? '是' : '否';
    if (Array.isArray(value)) return value.map(summaryValue).join('\n');
    if (value && typeof value === 'object') {
      return Object.keys(value).map(function (key) {
        return key + '：' + summaryValue(value[key]);
      }).join('\n');
    }
    return value === null || value === undefined ? '' : String(value);
  }

  function renderCase(c) {
    var sameCase = state.current === c.number;
    state.current = c.number;
    show($('case-empty'), false);
    show($('case'), true);
    $('case-title').textContent = '工单 ' + c.number;

    var tags = $('case-tags');
    clear(tags);
    tags.appendChild(tag(c.status.label));
    tags.appendChild(tag(c.priority.label, c.priority.value === 'high' ? 'high' : ''));
    tags.appendChild(tag('阶段：' + c.stage.label));
    tags.appendChild(tag('时效：' + c.sla.label, c.sla.value));

    var meta = $('case-meta');
    clear(meta);
    addMeta(meta, '转人工原因', c.reason.label);
    addMeta(meta, '渠道', c.channel + (c.off_hours ? '（非服务时间转入）' : ''));
    addMeta(meta, '首问责任人', who(c.owner));
    addMeta(meta, '当前处理人', who(c.handler));
    addMeta(meta, '转入时间', when(c.created_at));
    addMeta(meta, '首次响应时限', when(c.due));
    addMeta(meta, '回访电话', c.callback_phone);
    addMeta(meta, '客户', c.customer ? c.customer.name + '（' + c.customer.customer_no + '）' : null);
    if (c.resolution_note) addMeta(meta, '办结说明', c.resolution_note);

    var summary = $('case-summary');
    clear(summary);
    Object.keys(c.summary || {}).forEach(function (key) {
      addMeta(summary, SUMMARY_LABELS[key] || key, summaryValue(c.summary[key]));
    });

    var transcript = $('transcript');
    clear(transcript);
    c.messages.forEach(function (m) {
      var li = el('li', null, m.author.value + (m.private ? ' private' : ''));
      var by = m.author.label + (m.agent ? ' ' + m.agent.display_name : '') +
        (m.private ? ' · 内部备注' : '') + ' · ' + when(m.created_at);
      li.appendChild(el('div', by, 'who'));
      li.appendChild(el('div', m.text, 'text'));
      transcript.appendChild(li);
    });
    if (!c.messages.length) transcript.appendChild(el('li', '暂无消息', 'system'));

    var events = $('events');
    clear(events);
    c.events.forEach(function (e) {
      var text = when(e.created_at) + ' ' + e.kind.label;
      if (e.actor) text += ' · ' + e.actor.display_name;
      if (e.to_agent && (!e.actor || e.to_agent.username !== e.actor.username)) {
        text += ' → ' + e.to_agent.display_name;
      }
      if (e.note) text += '：' + e.note;
      events.appendChild(el('li', text));
    });

    // Stages only move forward: offer the later ones.
    var rank = STAGES.indexOf(c.stage.value);
    var firstLater = null;
    Array.prototype.forEach.call($('stage').options, function (option) {
      option.disabled = STAGES.indexOf(option.value) <= rank;
      if (!option.disabled && firstLater === null) firstLater = option.value;
    });
    if (firstLater !== null) $('stage').value = firstLater;

    var can = c.can;
    show($('message-form'), can.write);
    show($('claim'), can.claim);
    show($('stage-form'), can.stage && firstLater !== null);
    show($('transfer-form'), can.transfer || can.consult);
    show($('close-form'), can.close);
    state.caseOwner = c.owner ? c.owner.username : null;
    resetReassign(sameCase);
    show($('reassign-form'), can.reassign);
    show($('return-to-bot'), can.return_to_bot);
  }

  function act(path, body, done) {
    if (!state.current) return Promise.resolve();
    var number = state.current;
    return api('POST', '/api/cases/' + encodeURIComponent(number) + path, body)
      .then(function (data) {
        state.caseRead++;  // no older read may overwrite what the change returned
        renderCase(data.case);
        if (done) done(data);
        refresh();
      }, failed);
  }

  function claim(number) {
    api('POST', '/api/cases/' + encodeURIComponent(number) + '/claim', {})
      .then(function (data) {
        state.caseRead++;
        renderCase(data.case);
        notify('已接入工单 ' + number + '，您是首问责任人' +
          (data.delivered === false ? '。未能通知客户，请发送问候语' : ''), data.delivered === false);
        refresh();
      }, function (error) {
        failed(error);
        refresh();
      });
  }

  // Closing and handing back tell the customer; say so when that failed.
  function reportTold(data, done) {
    if (data.delivered === false) notify(done + '，但未能通知客户（客户通道暂不可用）', true);
    else notify(done);
  }

  function onSubmit(id, handler) {
    $(id).addEventListener('submit', function (event) {
      event.preventDefault();
      handler(event.target);
    });
  }

  function bind() {
    $('login-form').addEventListener('submit', login);
    $('logout').addEventListener('click', logout);
    $('claim').addEventListener('click', function () { claim(state.current); });
    $('return-to-bot').addEventListener('click', function () {
      if (window.confirm('确定将该客户转回机器人服务？')) {
        act('/return-to-bot', {}, function (data) { reportTold(data, '已转回机器人'); });
      }
    });
    $('canned').addEventListener('change', function (event) {
      var reply = state.canned[Number(event.target.value)];
      if (reply) {
        var box = $('message-text');
        box.value = box.value ? box.value + reply.text : reply.text;
        box.focus();
      }
      event.target.value = '';
    });
    onSubmit('find-form', function (form) { openCase(form.number.value.trim()); });
    onSubmit('message-form', function () {
      var isPrivate = $('private').checked;
      act('/messages', { text: $('message-text').value, private: isPrivate }, function (data) {
        $('message-text').value = '';
        if (!isPrivate && data.delivered === false) {
          notify('消息已保存在工单中，但未能送达客户（客户通道暂不可用）', true);
        }
      });
    });
    onSubmit('stage-form', function () { act('/stage', { stage: $('stage').value }); });
    onSubmit('transfer-form', function () {
      act('/' + $('transfer-kind').value,
        { to: $('transfer-to').value, note: $('transfer-note').value },
        function () { $('transfer-note').value = ''; });
    });
    onSubmit('close-form', function () {
      act('/close', { resolution_note: $('close-note').value }, function (data) {
        $('close-note').value = '';
        reportTold(data, '工单已办结');
      });
    });
    onSubmit('reassign-form', function () {
      act('/reassign', { to: $('reassign-to').value, reason: $('reassign-reason').value },
        function () { $('reassign-reason').value = ''; });
    });
  }

  document.addEventListener('DOMContentLoaded', function () {
    bind();
    // Logged in already (the cookie is HttpOnly, so ask the server)?
    fetch('/api/me', { credentials: 'same-origin', cache: 'no-store' }).then(function (response) {
      if (response.ok) start(); else showLogin();
    }, showLogin);
  });
}());
