/* 金融客服助手 网页在线客服: the widget itself.
 *
 * bot/widget/app.py serves this file as /widget.js, after the vendored
 * socket.io client, which it finds as the local `io` of that file's wrapper
 * (so neither defines a global). Embedding it takes one tag:
 *
 *   <script src="https://WIDGET/widget.js" data-rasa-url="https://RASA" defer></script>
 *
 * data- attributes of that tag: rasa-url (Rasa's socket.io channel; default
 * the page's origin), socket-path (/socket.io), title, welcome, open ("true":
 * start open), transports ("websocket", or "polling,websocket"), css-url
 * (default widget.css beside the script).
 *
 * Everything lives in one shadow root; the only global is window.KefuWidget.
 * Data never reaches the page as markup: every text goes through
 * textContent / createTextNode, links are built as elements and only for
 * http(s) URLs.
 *
 * Kept in localStorage, per Rasa server: the session id, the rendered
 * history of that session and its outbox (messages not yet emitted). A
 * message leaves the outbox in the same step as it is emitted on a connected,
 * session-confirmed socket, and is never emitted again. One tab at a time is
 * the conversation's active tab (Web Locks): the others show the history and
 * can take the conversation over, so two tabs never send the same message.
 */
(function (io) {
  'use strict';

  var NAMESPACE = 'KefuWidget';
  var VERSION = '1.0.0';
  if (window[NAMESPACE]) return; // the tag twice on one page: the first one serves

  var HISTORY_LIMIT = 200;
  var MAX_LENGTH = 1000;
  var TYPING_TIMEOUT_MS = 60000;
  var AGENT_PREFIX = /^【客服([^】\n]{1,20})】/;
  // http(s) URLs, ending at spaces, quotes, angle brackets and CJK text or punctuation.
  var URL_PATTERN = /https?:\/\/[^\s<>"'`\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\ufe30-\ufe4f\uff00-\uffef]+/gi;

  var script = document.currentScript || findScript();
  var data = (script && script.dataset) || {};
  var config = readConfig(data, script);
  var prefix = 'kefuWidget:v1:' + config.rasaUrl + ':';
  var local = storage('localStorage');
  var perTab = storage('sessionStorage');

  var state = {
    sessionId: null,
    history: [],
    outbox: [],
    socket: null,
    confirmed: false,
    everConnected: false,
    active: false,
    open: false,
    wantSocket: false,
    awaiting: 0,
    typingTimer: null,
    unread: 0,
    composing: false,
    lockQueued: false
  };
  var ui = null;

  // --- configuration -------------------------------------------------------------

  function findScript() {
    var scripts = document.querySelectorAll('script[src]');
    for (var i = scripts.length - 1; i >= 0; i--) {
      if (/\/widget\.js(?:[?#]|$)/.test(scripts[i].src)) return scripts[i];
    }
    return null;
  }

  function readConfig(options, tag) {
    var rasa;
    try {
      rasa = new URL(options.rasaUrl || location.origin, location.href);
    } catch (error) {
      rasa = new URL(location.origin);
    }
    var base = rasa.pathname.replace(/\/+$/, '');
    var path = options.socketPath || '/socket.io';
    var css = options.cssUrl || (tag && tag.src ? new URL('widget.css', tag.src).href : 'widget.css');
    return {
      rasaUrl: rasa.origin + base,
      origin: rasa.origin,
      socketPath: base + (path.charAt(0) === '/' ? path : '/' + path),
      title: options.title || '金融客服助手',
      welcome: options.welcome || '您好，我是金融客服助手，请问有什么可以帮您？',
      startOpen: options.open === 'true',
      transports: (options.transports || 'websocket').split(',')
        .map(function (name) { return name.trim(); })
        .filter(function (name) { return name === 'websocket' || name === 'polling'; }),
      cssUrl: css
    };
  }

  // --- storage (a page without storage keeps everything in memory) ------------------

  function storage(name) {
    try {
      var store = window[name];
      var probe = prefix + 'probe';
      store.setItem(probe, '1');
      store.removeItem(probe);
      return store;
    } catch (error) {
      var memory = {};
      return {
        getItem: function (key) { return Object.prototype.hasOwnProperty.call(memory, key) ? memory[key] : null; },
        setItem: function (key, value) { memory[key] = String(value); },
        removeItem: function (key) { delete memory[key]; }
      };
    }
  }

  function load(store, key, fallback) {
    try {
      var raw = store.getItem(prefix + key);
      return raw === null ? fallback : JSON.parse(raw);
    } catch (error) {
      return fallback;
    }
  }

  function save(store, key, value) {
    try {
      store.setItem(prefix + key, JSON.stringify(value));
    } catch (error) {
      // Full or refused: the conversation goes on, only the copy is stale.
    }
  }

  function drop(store, key) {
    try { store.removeItem(prefix + key); } catch (error) { /* nothing kept */ }
  }

  function newId() {
    var crypto = window.crypto;
    if (crypto && crypto.getRandomValues) {
      var bytes = new Uint8Array(16);
      crypto.getRandomValues(bytes);
      return Array.prototype.map.call(bytes, function (b) { return (b + 256).toString(16).slice(1); }).join('');
    }
    return (Date.now().toString(16) + Math.random().toString(16).slice(2) +
            Math.random().toString(16).slice(2)).slice(0, 32);
  }

  function loadConversation() {
    var session = load(local, 'session', null);
    if (typeof session !== 'string' || !/^[0-9a-zA-Z_-]{8,64}$/.test(session)) {
      session = newId();
      save(local, 'session', session);
    }
    state.sessionId = session;
    var history = load(local, 'history:' + session, []);
    var outbox = load(local, 'outbox:' + session, []);
    state.history = Array.isArray(history) ? history.filter(validItem) : [];
    state.outbox = Array.isArray(outbox) ? outbox.filter(function (item) {
      return item && typeof item.id === 'string' && ID.test(item.id) && typeof item.message === 'string';
    }) : [];
    // A message shown as waiting that is no longer in the outbox was emitted.
    var queued = {};
    state.outbox.forEach(function (item) { queued[item.id] = true; });
    state.history.forEach(function (item) {
      if (item.pending && !queued[item.id]) delete item.pending;
    });
  }

  var ID = /^[0-9a-zA-Z_-]{1,64}$/;

  // What comes back from storage is checked like anything else from outside.
  function validItem(item) {
    if (!item || typeof item.id !== 'string' || !ID.test(item.id) || typeof item.ts !== 'number' ||
        !isFinite(item.ts) || typeof item.text !== 'string') return false;
    if (item.buttons && !Array.isArray(item.buttons)) return false;
    if (item.image && !safeHref(item.image)) return false;
    if (item.role === 'agent') return typeof item.agent === 'string';
    return item.role === 'user' || item.role === 'bot';
  }

  function saveHistory() { save(local, 'history:' + state.sessionId, state.history); }

  function saveOutbox() { save(local, 'outbox:' + state.sessionId, state.outbox); }

  // --- DOM helpers: text only ------------------------------------------------------

  function el(tag, attributes, text) {
    var node = document.createElement(tag);
    if (attributes) {
      Object.keys(attributes).forEach(function (name) { node.setAttribute(name, attributes[name]); });
    }
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }

  function safeHref(candidate) {
    try {
      var url = new URL(candidate);
      if ((url.protocol === 'http:' || url.protocol === 'https:') && url.hostname) return url.href;
    } catch (error) { /* not a URL */ }
    return null;
  }

  function trimUrl(url) {
    var trimmed = url;
    for (;;) {
      var last = trimmed.charAt(trimmed.length - 1);
      if ('.,;:!?\'"'.indexOf(last) >= 0) {
        trimmed = trimmed.slice(0, -1);
      } else if (')]}'.indexOf(last) >= 0) {
        var open = { ')': '(', ']': '[', '}': '{' }[last];
        if (trimmed.split(open).length >= trimmed.split(last).length) break; // balanced: keep
        trimmed = trimmed.slice(0, -1);
      } else {
        break;
      }
    }
    return trimmed;
  }

  // `text` into `node`: text nodes, and <a> elements for http(s) URLs.
  function appendText(node, text) {
    var last = 0;
    var match;
    URL_PATTERN.lastIndex = 0;
    while ((match = URL_PATTERN.exec(text)) !== null) {
      var start = match.index;
      var raw = trimUrl(match[0]);
      var href = start > 0 && /[A-Za-z0-9]/.test(text.charAt(start - 1)) ? null : safeHref(raw);
      if (!href) continue;
      if (start > last) node.appendChild(document.createTextNode(text.slice(last, start)));
      node.appendChild(el('a', { href: href, target: '_blank', rel: 'noopener noreferrer nofollow' }, raw));
      last = start + raw.length;
      URL_PATTERN.lastIndex = last;
    }
    if (last < text.length) node.appendChild(document.createTextNode(text.slice(last)));
  }

  function two(n) { return (n < 10 ? '0' : '') + n; }

  function shortTime(ts) {
    var date = new Date(ts);
    var now = new Date();
    var clock = two(date.getHours()) + ':' + two(date.getMinutes());
    if (date.toDateString() === now.toDateString()) return clock;
    return (date.getMonth() + 1) + '月' + date.getDate() + '日 ' + clock;
  }

  function longTime(ts) {
    var date = new Date(ts);
    return date.getFullYear() + '年' + (date.getMonth() + 1) + '月' + date.getDate() + '日 ' +
      two(date.getHours()) + ':' + two(date.getMinutes()) + ':' + two(date.getSeconds());
  }

  // --- the widget's DOM ----------------------------------------------------------

  function buildUi() {
    var host = document.createElement('kefu-widget');
    var root = host.attachShadow({ mode: 'open' });
    var frame = el('div', { 'class': 'kw-root' });
    frame.hidden = true; // until its stylesheet is in
    var stylesheet = el('link', { rel: 'stylesheet', href: config.cssUrl });
    var reveal = function () { frame.hidden = false; };
    stylesheet.addEventListener('load', reveal);
    stylesheet.addEventListener('error', reveal);

    var launcher = el('button', {
      type: 'button', 'class': 'kw-launcher', 'aria-expanded': 'false', 'aria-controls': 'kw-panel'
    });
    launcher.appendChild(el('span', { 'class': 'kw-launcher-icon', 'aria-hidden': 'true' }, '💬'));
    launcher.appendChild(el('span', { 'class': 'kw-launcher-text' }, '在线客服'));
    var badge = el('span', { 'class': 'kw-badge', 'aria-hidden': 'true' });
    badge.hidden = true;
    launcher.appendChild(badge);

    var panel = el('section', {
      id: 'kw-panel', 'class': 'kw-panel', role: 'dialog', 'aria-modal': 'false', 'aria-labelledby': 'kw-title'
    });
    panel.hidden = true;

    var header = el('header', { 'class': 'kw-header' });
    var heading = el('div', { 'class': 'kw-heading' });
    heading.appendChild(el('h2', { id: 'kw-title', 'class': 'kw-title' }, config.title));
    var status = el('p', { 'class': 'kw-status', role: 'status' }, '');
    heading.appendChild(status);
    header.appendChild(heading);
    var end = el('button', {
      type: 'button', 'class': 'kw-header-button', 'aria-label': '结束对话并清除本机聊天记录', title: '结束对话'
    }, '结束');
    var minimise = el('button', {
      type: 'button', 'class': 'kw-header-button', 'aria-label': '收起在线客服窗口', title: '收起'
    }, '✕');
    header.appendChild(end);
    header.appendChild(minimise);

    var notice = el('div', { 'class': 'kw-notice' });
    notice.hidden = true;
    notice.appendChild(el('p', null, '对话已在本网站的另一个窗口中进行。'));
    var takeOver = el('button', { type: 'button', 'class': 'kw-take-over' }, '在此窗口继续对话');
    notice.appendChild(takeOver);

    var log = el('ol', {
      'class': 'kw-log', role: 'log', 'aria-live': 'polite', 'aria-relevant': 'additions',
      'aria-label': '对话记录', tabindex: '0'
    });

    var typing = el('div', { 'class': 'kw-typing' });
    typing.hidden = true;
    var dots = el('span', { 'class': 'kw-dots', 'aria-hidden': 'true' });
    dots.appendChild(el('i'));
    dots.appendChild(el('i'));
    dots.appendChild(el('i'));
    typing.appendChild(dots);
    typing.appendChild(el('span', null, '正在输入…'));

    var form = el('form', { 'class': 'kw-composer' });
    form.appendChild(el('label', { 'for': 'kw-input', 'class': 'kw-sr' }, '输入您的问题'));
    var input = el('textarea', {
      id: 'kw-input', 'class': 'kw-input', rows: '1', maxlength: String(MAX_LENGTH),
      placeholder: '请输入您的问题，按回车发送', enterkeyhint: 'send', autocomplete: 'off'
    });
    var send = el('button', { type: 'submit', 'class': 'kw-send' }, '发送');
    form.appendChild(input);
    form.appendChild(send);

    panel.appendChild(header);
    panel.appendChild(notice);
    panel.appendChild(log);
    panel.appendChild(typing);
    panel.appendChild(form);
    frame.appendChild(panel);
    frame.appendChild(launcher);
    root.appendChild(stylesheet);
    root.appendChild(frame);
    document.body.appendChild(host);

    ui = {
      host: host, frame: frame, launcher: launcher, badge: badge, panel: panel, status: status,
      end: end, notice: notice, log: log, typing: typing, form: form, input: input, send: send
    };

    launcher.addEventListener('click', function () { if (state.open) close(); else open(true); });
    minimise.addEventListener('click', function () { close(); });
    end.addEventListener('click', function () {
      if (window.confirm('结束本次对话，并清除本机上的聊天记录？')) reset();
    });
    takeOver.addEventListener('click', function () { acquire('steal'); });
    panel.addEventListener('keydown', function (event) {
      if (event.key === 'Escape' || event.key === 'Esc') {
        event.preventDefault();
        close();
      }
    });
    form.addEventListener('submit', function (event) {
      event.preventDefault();
      submitInput();
    });
    input.addEventListener('compositionstart', function () { state.composing = true; });
    input.addEventListener('compositionend', function () { state.composing = false; });
    input.addEventListener('blur', function () { state.composing = false; });
    input.addEventListener('keydown', function (event) {
      if (event.key !== 'Enter' && event.keyCode !== 13 && event.keyCode !== 229) return;
      // Chinese input methods: Enter while a composition is open picks the
      // candidate (or commits the pinyin); it must not send.
      if (event.isComposing || event.keyCode === 229 || state.composing) return;
      if (event.shiftKey || event.altKey || event.ctrlKey || event.metaKey) return; // a new line
      event.preventDefault();
      submitInput();
    });
    input.addEventListener('input', autosize);
  }

  function autosize() {
    ui.input.style.height = 'auto';
    ui.input.style.height = Math.min(ui.input.scrollHeight, 120) + 'px';
  }

  function renderItem(item) {
    var li = el('li', { 'class': 'kw-msg kw-' + item.role, 'data-id': item.id });
    if (item.role === 'agent') {
      li.appendChild(el('span', { 'class': 'kw-agent-label' }, '客服' + item.agent));
    } else {
      li.appendChild(el('span', { 'class': 'kw-sr' }, item.role === 'user' ? '我：' : config.title + '：'));
    }
    if (item.text) {
      var bubble = el('div', { 'class': 'kw-bubble' });
      appendText(bubble, item.text);
      li.appendChild(bubble);
    }
    if (item.image) {
      li.appendChild(el('img', {
        'class': 'kw-image', src: item.image, alt: '图片', loading: 'lazy', referrerpolicy: 'no-referrer'
      }));
    }
    if (item.buttons && item.buttons.length) {
      var group = el('div', { 'class': 'kw-replies', role: 'group', 'aria-label': '可选问题' });
      item.buttons.forEach(function (button) {
        if (!button || typeof button.title !== 'string' || typeof button.payload !== 'string') return;
        var node = el('button', { type: 'button', 'class': 'kw-reply' }, button.title);
        node.addEventListener('click', function () {
          if (!state.active) return;
          send(button.payload, button.title);
          ui.input.focus();
        });
        group.appendChild(node);
      });
      li.appendChild(group);
    }
    var meta = el('div', { 'class': 'kw-meta' });
    meta.appendChild(el('time', {
      'class': 'kw-time', datetime: new Date(item.ts).toISOString(), title: longTime(item.ts)
    }, shortTime(item.ts)));
    if (item.pending) meta.appendChild(el('span', { 'class': 'kw-pending' }, '待发送'));
    li.appendChild(meta);
    return li;
  }

  function renderHistory() {
    // Restored lines are not news: the live region is quiet while they go in.
    ui.log.setAttribute('aria-live', 'off');
    clear(ui.log);
    var welcome = el('li', { 'class': 'kw-msg kw-bot kw-welcome' });
    welcome.appendChild(el('span', { 'class': 'kw-sr' }, config.title + '：'));
    welcome.appendChild(el('div', { 'class': 'kw-bubble' }, config.welcome));
    ui.log.appendChild(welcome);
    state.history.forEach(function (item) { ui.log.appendChild(renderItem(item)); });
    scrollToEnd(true);
    setTimeout(function () { ui.log.setAttribute('aria-live', 'polite'); }, 0);
  }

  function scrollToEnd(always) {
    var log = ui.log;
    var nearEnd = log.scrollHeight - log.scrollTop - log.clientHeight < 120;
    if (always || nearEnd) log.scrollTop = log.scrollHeight;
  }

  function addItem(item, own) {
    state.history.push(item);
    if (state.history.length > HISTORY_LIMIT) {
      state.history.splice(0, state.history.length - HISTORY_LIMIT);
      saveHistory();
      renderHistory();
      return;
    }
    saveHistory();
    ui.log.appendChild(renderItem(item));
    scrollToEnd(own);
  }

  function setStatus() {
    var text;
    var online = navigator.onLine !== false;
    if (!state.active) {
      text = '对话在另一个窗口中';
    } else if (!online) {
      text = '网络已断开，恢复后将自动发送消息';
    } else if (ready()) {
      text = '在线';
    } else if (!state.wantSocket) {
      text = '';
    } else {
      text = state.everConnected ? '连接已中断，正在重新连接…' : '正在连接…';
    }
    if (state.outbox.length && !ready()) text += '（' + state.outbox.length + '条消息待发送）';
    if (ui.status.textContent !== text) ui.status.textContent = text;
    ui.frame.classList.toggle('kw-offline', !ready());
  }

  function setTyping(delta) {
    state.awaiting = delta === 0 ? 0 : Math.max(0, state.awaiting + delta);
    ui.typing.hidden = state.awaiting === 0;
    clearTimeout(state.typingTimer);
    if (state.awaiting) {
      state.typingTimer = setTimeout(function () { setTyping(0); }, TYPING_TIMEOUT_MS);
      scrollToEnd(false);
    }
  }

  function updateBadge() {
    ui.badge.hidden = state.unread === 0;
    ui.badge.textContent = state.unread > 99 ? '99+' : String(state.unread);
    ui.launcher.setAttribute('aria-label', state.unread ? '在线客服，' + state.unread + '条新消息' : '在线客服');
  }

  // --- opening and closing --------------------------------------------------------

  function open(focus) {
    state.open = true;
    save(perTab, 'open', true);
    ui.panel.hidden = false;
    ui.frame.classList.add('kw-open');
    ui.launcher.setAttribute('aria-expanded', 'true');
    state.unread = 0;
    updateBadge();
    scrollToEnd(true);
    ensureSocket();
    if (focus) (state.active ? ui.input : ui.log).focus();
  }

  function close() {
    var hadFocus = ui.panel.contains(ui.host.shadowRoot.activeElement);
    state.open = false;
    save(perTab, 'open', false);
    ui.panel.hidden = true;
    ui.frame.classList.remove('kw-open');
    ui.launcher.setAttribute('aria-expanded', 'false');
    if (hadFocus) ui.launcher.focus(); // back where the keyboard user was
  }

  // --- sending: the outbox ----------------------------------------------------------

  function ready() {
    return state.active && !!state.socket && state.socket.connected && state.confirmed &&
      navigator.onLine !== false;
  }

  function submitInput() {
    if (!state.active) return;
    var text = ui.input.value.replace(/^\s+|\s+$/g, '');
    if (!text) return;
    ui.input.value = '';
    autosize();
    send(text, text);
  }

  // `message` to Rasa, `display` in the conversation (a button's title).
  function send(message, display) {
    var id = newId();
    addItem({ id: id, role: 'user', text: display, ts: Date.now(), pending: true }, true);
    state.outbox.push({ id: id, message: message });
    saveOutbox();
    ensureSocket();
    flush();
    setStatus();
  }

  // Emits what is queued, oldest first, only on a connected socket whose
  // session Rasa confirmed. Each message leaves the outbox as it is emitted
  // and is never emitted again (a reconnect sends only what is still queued).
  function flush() {
    while (state.outbox.length && ready()) {
      var item = state.outbox.shift();
      saveOutbox();
      state.socket.emit('user_uttered', {
        message: item.message, session_id: state.sessionId, metadata: { client_id: item.id }
      }, answered);
      markSent(item.id);
      setTyping(1);
    }
    setStatus();
  }

  // Rasa acknowledges a message once it has handled it (its replies are out).
  function answered() { setTyping(-1); }

  function markSent(id) {
    for (var i = state.history.length - 1; i >= 0; i--) {
      if (state.history[i].id === id) {
        delete state.history[i].pending;
        saveHistory();
        break;
      }
    }
    var pending = ui.log.querySelector('li[data-id="' + id + '"] .kw-pending');
    if (pending) pending.parentNode.removeChild(pending);
  }

  // --- receiving --------------------------------------------------------------------

  function buttonsOf(message) {
    var list = message.quick_replies || message.buttons;
    if (!Array.isArray(list)) return [];
    return list.filter(function (b) { return b && (typeof b.title === 'string' || typeof b.payload === 'string'); })
      .map(function (b) {
        var title = typeof b.title === 'string' && b.title ? b.title : String(b.payload);
        return { title: title, payload: typeof b.payload === 'string' && b.payload ? b.payload : title };
      });
  }

  function imageOf(message) {
    var attachment = message.attachment;
    if (attachment && attachment.type === 'image' && attachment.payload &&
        typeof attachment.payload.src === 'string') {
      return safeHref(attachment.payload.src);
    }
    return null;
  }

  function received(message) {
    if (!state.active || !message || typeof message !== 'object') return;
    var text = typeof message.text === 'string' ? message.text : '';
    var buttons = buttonsOf(message);
    var image = imageOf(message);
    if (!text && !buttons.length && !image) return;
    var item = { id: 'b' + newId(), role: 'bot', text: text, ts: Date.now() };
    var agent = AGENT_PREFIX.exec(text);
    if (agent) {
      item.role = 'agent';
      item.agent = agent[1];
      item.text = text.slice(agent[0].length);
    }
    if (buttons.length) item.buttons = buttons;
    if (image) item.image = image;
    addItem(item, false);
    if (!state.open) {
      state.unread += 1;
      updateBadge();
    }
  }

  // --- the connection ---------------------------------------------------------------

  function ensureSocket() {
    if (!state.active) return;
    state.wantSocket = true;
    if (!state.socket) {
      var socket = io(config.origin, {
        path: config.socketPath,
        transports: config.transports.length ? config.transports : ['websocket'],
        autoConnect: false,
        forceNew: true,
        // A server (or proxy) that accepts the socket but never answers the
        // handshake: give up on that attempt after 8 s and try again.
        timeout: 8000,
        reconnectionDelay: 1000,
        reconnectionDelayMax: 5000
      });
      socket.on('connect', function () {
        state.confirmed = false;
        state.everConnected = true;
        socket.emit('session_request', { session_id: state.sessionId });
        setStatus();
      });
      socket.on('session_confirm', function (sessionId) {
        if (sessionId !== state.sessionId) return;
        state.confirmed = true;
        flush();
      });
      socket.on('bot_uttered', received);
      socket.on('disconnect', function () {
        state.confirmed = false;
        setTyping(0); // acknowledgements of this connection will not come
        setStatus();
      });
      socket.on('connect_error', setStatus);
      state.socket = socket;
    }
    if (navigator.onLine !== false && !state.socket.connected) {
      state.socket.connect();
    }
    setStatus();
  }

  window.addEventListener('offline', function () {
    // Do not trust a socket across a network change: close it and queue
    // until the browser is online again, then reconnect and flush.
    if (state.socket) state.socket.disconnect();
    setStatus();
  });

  window.addEventListener('online', function () {
    if (state.active && state.wantSocket) ensureSocket();
    setStatus();
  });

  // --- one active tab per conversation ---------------------------------------------

  // mode: 'try' (at start), 'wait' (queue for when the other tab closes), 'steal'.
  function acquire(mode) {
    var locks = navigator.locks;
    if (!locks || typeof locks.request !== 'function') { // no Web Locks: every tab is active
      activate();
      return;
    }
    if (mode === 'wait') {
      if (state.lockQueued) return;
      state.lockQueued = true;
    }
    var options = mode === 'steal' ? { steal: true } : mode === 'try' ? { ifAvailable: true } : {};
    locks.request(prefix + 'active', options, function (lock) {
      if (mode === 'wait') state.lockQueued = false;
      if (!lock) { // another tab has the conversation
        deactivate();
        return null;
      }
      activate();
      return new Promise(function () { /* held while this page lives */ });
    }).catch(function () {
      // Another tab took the conversation over.
      if (mode === 'wait') state.lockQueued = false;
      deactivate();
    });
  }

  function activate() {
    if (state.active) return;
    state.active = true;
    loadConversation(); // another tab may have written since
    renderHistory();
    ui.notice.hidden = true;
    ui.input.disabled = false;
    ui.send.disabled = false;
    ui.end.disabled = false;
    if (state.open || state.history.length || state.outbox.length) ensureSocket();
    flush();
    setStatus();
  }

  function deactivate() {
    state.active = false;
    state.wantSocket = false;
    if (state.socket) state.socket.disconnect();
    state.confirmed = false;
    setTyping(0);
    ui.notice.hidden = false;
    ui.input.disabled = true;
    ui.send.disabled = true;
    ui.end.disabled = true;
    setStatus();
    acquire('wait'); // this tab continues when the other one is closed
  }

  window.addEventListener('storage', function (event) {
    if (state.active || !event.key || event.key.indexOf(prefix) !== 0) return;
    loadConversation();
    renderHistory();
  });

  // --- a new conversation ------------------------------------------------------------

  function reset() {
    if (!state.active) return;
    drop(local, 'history:' + state.sessionId);
    drop(local, 'outbox:' + state.sessionId);
    state.sessionId = newId();
    save(local, 'session', state.sessionId);
    state.history = [];
    state.outbox = [];
    setTyping(0);
    renderHistory();
    if (state.socket) state.socket.disconnect(); // leaves the old session's room
    state.confirmed = false;
    ensureSocket();
    if (state.open) ui.input.focus();
  }

  // --- start -------------------------------------------------------------------------

  function start() {
    loadConversation();
    buildUi();
    renderHistory();
    ui.input.disabled = true;
    ui.send.disabled = true;
    ui.end.disabled = true;
    if (config.startOpen || load(perTab, 'open', false) === true) open(false);
    setStatus();
    acquire('try');
  }

  window[NAMESPACE] = Object.freeze({
    version: VERSION,
    open: function () { if (ui) open(true); },
    close: function () { if (ui) close(); },
    reset: function () { if (ui) reset(); },
    status: function () {
      return {
        sessionId: state.sessionId, active: state.active, connected: ready(),
        queued: state.outbox.length, open: state.open
      };
    }
  });

  if (document.body) start();
  else document.addEventListener('DOMContentLoaded', start);
})(io);
