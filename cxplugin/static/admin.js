/* The admin pages' behaviour: session tokens on every data request, navigation that keeps the embedded
 * session, the settings form (save bar, 422 messages beside their fields, preview), follow-up marks and the
 * CSV download. Works with App Bridge (inside Shopify admin) and without it (tests, the local demo). */
(function () {
  'use strict';
  var d = document, bridge = !!(window.shopify && typeof window.shopify.idToken === 'function');
  var query = new URLSearchParams(location.search);
  if (bridge) d.documentElement.classList.add('app-bridge');

  // A fresh session token: App Bridge's; else the local demo's (localhost only); else the one Shopify's
  // redirect put in this page's address. The token is never written into the page.
  function token() {
    if (bridge) return window.shopify.idToken();
    var demo = d.querySelector('meta[name="cx-demo-token-url"]');
    if (demo) return fetch(demo.content, { credentials: 'same-origin' }).then(function (r) { return r.text(); });
    var own = query.get('id_token');
    return own ? Promise.resolve(own) : Promise.reject(new Error('No session token: open the app from Shopify admin.'));
  }

  function api(path, options) {
    options = options || {};
    return token().then(function (t) {
      var headers = Object.assign({ Accept: 'application/json', Authorization: 'Bearer ' + t }, options.headers || {});
      if (options.json !== undefined) {
        headers['Content-Type'] = 'application/json';
        options.body = JSON.stringify(options.json);
      }
      return fetch(path, { method: options.method || 'GET', headers: headers, body: options.body });
    });
  }

  function say(el, text) { if (el) { el.textContent = text; el.hidden = !text; } }

  // --- Navigation: keep the embedded session (shop, host) and bring a fresh token --------------------
  function go(url) {
    ['shop', 'host', 'embedded', 'locale'].forEach(function (k) {
      if (query.get(k) && !url.searchParams.has(k)) url.searchParams.set(k, query.get(k));
    });
    token().then(function (t) { url.searchParams.set('id_token', t); }, function () {})
      .then(function () { location.assign(url.toString()); });
  }

  d.addEventListener('click', function (e) {
    var a = e.target.closest && e.target.closest('a[data-keep-session]');
    if (!a || e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    go(new URL(a.href));
  });

  d.addEventListener('submit', function (e) {
    var form = e.target;
    if (!form.matches('form[data-keep-session]')) return;
    e.preventDefault();
    var url = new URL(form.action);
    new FormData(form).forEach(function (value, key) { if (value) url.searchParams.set(key, value); });
    go(url);
  });

  // --- CSV download: the API wants a bearer token, so fetch it and hand the file over ----------------
  d.addEventListener('click', function (e) {
    var a = e.target.closest && e.target.closest('a[data-download]');
    if (!a) return;
    e.preventDefault();
    api(a.getAttribute('href')).then(function (r) {
      if (!r.ok) throw new Error('The download failed (' + r.status + ').');
      return r.blob();
    }).then(function (blob) {
      var link = d.createElement('a');
      link.href = URL.createObjectURL(blob);
      link.download = a.getAttribute('download') || 'scores.csv';
      d.body.appendChild(link);
      link.click();
      link.remove();
      setTimeout(function () { URL.revokeObjectURL(link.href); }, 1000);
    }).catch(function (err) { a.textContent = err.message; });
  });

  // --- Follow-up marks ------------------------------------------------------------------------------
  d.addEventListener('change', function (e) {
    var select = e.target;
    if (!select.matches('select[data-mark]')) return;
    var status = select.parentNode.querySelector('.mark-status'), before = select.dataset.was || 'open';
    // A mark says where it is saved (data-mark-url: orders at risk, detractors); else it is a response's.
    api(select.dataset.markUrl || '/api/admin/responses/' + encodeURIComponent(select.dataset.mark) + '/mark',
        { method: 'PUT', json: { mark: select.value } }).then(function (r) {
      if (!r.ok) throw new Error('Not saved (' + r.status + ')');
      select.dataset.was = select.value;
      status.textContent = 'Saved';
    }).catch(function (err) {
      status.textContent = err.message;
      select.value = before;
    });
  });
  Array.prototype.forEach.call(d.querySelectorAll('select[data-mark]'), function (s) { s.dataset.was = s.value; });

  // --- Settings -------------------------------------------------------------------------------------
  var form = d.querySelector('form[data-settings-form]');
  if (form) settings(form);

  function setPath(obj, path, value) {
    var keys = path.split('.'), last = keys.pop();
    keys.forEach(function (k) { obj = obj[k] = (obj[k] && typeof obj[k] === 'object') ? obj[k] : {}; });
    obj[last] = value;
  }

  function numberOr(raw) { return /^-?\d+$/.test(raw) ? Number(raw) : raw; }

  function read(el, problems) {
    var kind = el.dataset.kind, raw = (el.value || '').trim();
    if (kind === 'bool') return el.checked;
    if (kind === 'int') return numberOr(raw);
    if (kind === 'opt-int') return raw === '' ? null : numberOr(raw);
    if (kind === 'opt-text') return raw === '' ? null : raw;
    if (kind === 'percent') return /^\d+(\.\d+)?$/.test(raw) ? Math.round(Number(raw) * 10) / 1000 : raw;
    if (kind === 'list') return raw.split(/[\n,]/).map(function (s) { return s.trim(); }).filter(Boolean);
    if (kind === 'weekdays') {
      return Array.prototype.map.call(el.querySelectorAll('input:checked'), function (i) { return Number(i.value); });
    }
    if (kind === 'methods') {
      var methods = {};
      raw.split('\n').map(function (s) { return s.trim(); }).filter(Boolean).forEach(function (line) {
        var m = /^(.+?)\s*:\s*(\d+)\s*[-–]\s*(\d+)$/.exec(line);
        if (m) methods[m[1]] = { min: Number(m[2]), max: Number(m[3]) };
        else problems.push([el, 'Write one method per line, like “Express: 1-2” (“' + line + '” is not).']);
      });
      return methods;
    }
    return raw;
  }

  function settings(form) {
    var snapshot, dirty = false, counter = 1000;
    var fallbackBar = d.querySelector('[data-fallback-save-bar]');
    var status = d.querySelector('[data-form-status]'), summary = d.querySelector('[data-form-errors]');

    function items(list) { return Array.prototype.filter.call(list.children, function (c) { return c.hasAttribute('data-item'); }); }

    function readScope(scope, problems) {
      var out = {};
      Array.prototype.forEach.call(scope.querySelectorAll('[data-key]'), function (el) { setPath(out, el.dataset.key, read(el, problems)); });
      Array.prototype.forEach.call(scope.querySelectorAll('[data-nullable]'), function (group) {
        var empty = Array.prototype.every.call(group.querySelectorAll('input'), function (i) { return !i.value.trim(); });
        if (empty) setPath(out, group.dataset.nullable, null);
      });
      return out;
    }

    // Every bound element with the full settings path it stands for (list items by their position).
    function bound() {
      var found = [];
      Array.prototype.forEach.call(form.querySelectorAll('[data-field]'), function (el) { found.push([el.dataset.field, el]); });
      Array.prototype.forEach.call(form.querySelectorAll('[data-list]'), function (list) {
        found.push([list.dataset.list, list]);
        items(list).forEach(function (item, i) {
          Array.prototype.forEach.call(item.querySelectorAll('[data-key]'), function (el) { found.push([list.dataset.list + '.' + i + '.' + el.dataset.key, el]); });
        });
      });
      Array.prototype.forEach.call(form.querySelectorAll('[data-object]'), function (obj) {
        Array.prototype.forEach.call(obj.querySelectorAll('[data-key]'), function (el) { found.push([obj.dataset.object + '.' + el.dataset.key, el]); });
      });
      return found;
    }

    function collect(problems) {
      var out = {};
      Array.prototype.forEach.call(form.querySelectorAll('[data-field]'), function (el) { setPath(out, el.dataset.field, read(el, problems)); });
      Array.prototype.forEach.call(form.querySelectorAll('[data-list]'), function (list) {
        setPath(out, list.dataset.list, items(list).map(function (item) { return readScope(item, problems); }));
      });
      Array.prototype.forEach.call(form.querySelectorAll('[data-object]'), function (obj) {
        var on = obj.querySelector('[data-object-toggle]');
        setPath(out, obj.dataset.object, on && !on.checked ? null : readScope(obj, problems));
      });
      return out;
    }

    function errorSlot(el) {
      var slot = el.matches('[data-list]') ? el.querySelector(':scope > [data-error]') : null;
      return slot || (el.closest('.field') || el).querySelector('[data-error]');
    }

    function clearErrors() {
      Array.prototype.forEach.call(form.querySelectorAll('[data-error]'), function (p) { say(p, ''); });
      Array.prototype.forEach.call(form.querySelectorAll('[aria-invalid]'), function (el) { el.removeAttribute('aria-invalid'); });
      say(summary, '');
    }

    function flatten(errors, prefix, out) {
      if (Array.isArray(errors) && errors.every(function (m) { return typeof m === 'string'; })) {
        out.push([prefix, errors.join(' ')]);
      } else if (errors && typeof errors === 'object') {
        Object.keys(errors).forEach(function (k) { flatten(errors[k], prefix ? prefix + '.' + k : k, out); });
      }
      return out;
    }

    function showErrors(pairs) {
      var map = {}, unplaced = [], first = null;
      bound().forEach(function (b) { map[b[0]] = b[1]; });
      pairs.forEach(function (pair) {
        var path = pair[0], el = null, keys = path.split('.');
        while (keys.length && !(el = map[keys.join('.')])) keys.pop();
        if (!el) { unplaced.push(pair[1]); return; }
        var slot = errorSlot(el);
        say(slot, (slot.textContent ? slot.textContent + ' ' : '') + pair[1]);
        if (!el.matches('[data-list]')) el.setAttribute('aria-invalid', 'true');
        first = first || el;
      });
      say(summary, unplaced.length ? unplaced.join(' ') : 'Some settings need a change: see the messages beside them.');
      if (first && first.focus) first.focus();
    }

    function markSaved() {
      // The values now saved become the form's defaults, so Discard comes back to them.
      Array.prototype.forEach.call(form.querySelectorAll('input, textarea, select'), function (el) {
        if (el.type === 'checkbox') { if (el.checked) el.setAttribute('checked', ''); else el.removeAttribute('checked'); }
        else if (el.tagName === 'TEXTAREA') el.textContent = el.value;
        else if (el.tagName === 'SELECT') Array.prototype.forEach.call(el.options, function (o) { if (o.selected) o.setAttribute('selected', ''); else o.removeAttribute('selected'); });
        else el.setAttribute('value', el.value);
      });
      snapshot = form.innerHTML;
    }

    function setDirty(on) {
      dirty = on;
      if (bridge && window.shopify.saveBar) {
        window.shopify.saveBar[on ? 'show' : 'hide']('cx-save-bar');
      } else if (fallbackBar) {
        fallbackBar.hidden = !on;
      }
      if (on) say(status, '');
    }

    function save() {
      var problems = [];
      var body = collect(problems);
      clearErrors();
      if (problems.length) {
        showErrors(problems.map(function (p) { return [bound().filter(function (b) { return b[1] === p[0]; })[0][0], p[1]]; }));
        return;
      }
      api('/api/admin/settings', { method: 'PUT', json: body }).then(function (r) {
        return r.json().catch(function () { return {}; }).then(function (data) { return [r.status, data]; });
      }).then(function (result) {
        if (result[0] === 200) {
          markSaved();
          setDirty(false);
          say(status, 'Settings saved.');
        } else if (result[0] === 422) {
          showErrors(flatten(result[1].errors || {}, '', []));
        } else {
          say(summary, (result[1] && (result[1].message || result[1].error)) || 'The settings could not be saved (' + result[0] + '). Try again.');
        }
      }).catch(function (err) { say(summary, 'The settings could not be saved: ' + err.message); });
    }

    function discard() {
      form.innerHTML = snapshot;
      clearErrors();
      setDirty(false);
    }

    function changed(e) {
      if (e.target.closest('[data-field],[data-key],[data-object-toggle]')) setDirty(true);
    }
    form.addEventListener('input', changed);
    form.addEventListener('change', changed);
    form.addEventListener('submit', function (e) { e.preventDefault(); save(); });
    d.addEventListener('click', function (e) {
      var t = e.target.closest && e.target.closest('[data-save],[data-discard],[data-add-item],[data-remove-item],[data-use-learned]');
      if (!t) return;
      if (t.matches('[data-save]')) { e.preventDefault(); save(); }
      else if (t.matches('[data-use-learned]')) {
        // One click: switch the mode and save, with whatever else the merchant has changed on the page.
        e.preventDefault();
        form.querySelector('[data-field="promise.mode"]').value = 'learned';
        setDirty(true);
        save();
      }
      else if (t.matches('[data-discard]')) { e.preventDefault(); discard(); }
      else if (t.matches('[data-add-item]')) {
        var list = form.querySelector('[data-list="' + t.dataset.addItem + '"]');
        var template = d.getElementById(list.dataset.template);
        var holder = d.createElement('div');
        holder.innerHTML = template.innerHTML.replace(/__i__/g, String(counter++));
        var item = holder.firstElementChild;
        list.insertBefore(item, list.querySelector(':scope > [data-error]'));
        var firstInput = item.querySelector('input');
        if (firstInput) firstInput.focus();
        setDirty(true);
      } else {
        t.closest('[data-item]').remove();
        setDirty(true);
      }
    });
    snapshot = form.innerHTML;
    preview();
    d.addEventListener('change', function (e) { if (e.target.closest('[data-preview-controls]')) preview(); });
    d.addEventListener('click', function (e) { if (e.target.closest && e.target.closest('[data-preview-button]')) preview(); });
  }

  // --- Preview: the storefront's sentence as the theme block composes it -----------------------------
  function fill(tpl, vals) {
    return String(tpl == null ? '' : tpl).replace(/\{(\w+)\}/g, function (m, k) {
      return Object.prototype.hasOwnProperty.call(vals, k) ? (vals[k] == null ? '' : vals[k]) : m;
    }).replace(/\s+/g, ' ').trim();
  }

  function preview() {
    var box = d.querySelector('[data-preview]');
    if (!box) return;
    var country = d.querySelector('[data-preview-country]').value.trim().toUpperCase();
    var locale = d.querySelector('[data-preview-locale]').value;
    function line(name, text) { box.querySelector('[data-preview-line="' + name + '"]').textContent = text || ''; }
    box.setAttribute('aria-busy', 'true');
    api('/api/admin/preview?' + new URLSearchParams({ country: country, locale: locale })).then(function (r) {
      if (!r.ok) throw new Error(r.status);
      return r.json();
    }).then(function (data) {
      var t = data.text || {}, secs = data.seconds_to_cutoff, cd = '';
      box.setAttribute('dir', data.dir === 'rtl' ? 'rtl' : 'ltr');
      box.setAttribute('lang', data.locale || locale);
      if (!data.served) { line('countdown', ''); line('arrival', t.not_served); line('returns', ''); return; }
      if (typeof secs === 'number' && secs > 0) {
        var mins = Math.ceil(secs / 60), h = Math.floor(mins / 60), n = new Intl.NumberFormat(data.locale || locale);
        cd = fill(h ? (t.hours_minutes || '{h} h {m} min') : (t.minutes || '{m} min'), { h: n.format(h), m: n.format(mins % 60) });
      }
      line('countdown', cd ? fill(t.countdown, { dates: t.dates, countdown: cd }) : '');
      line('arrival', t.arrival);
      line('returns', data.returns_text);
    }).catch(function () {
      box.removeAttribute('dir');
      line('countdown', '');
      line('arrival', 'The preview is not available right now.');
      line('returns', '');
    }).then(function () { box.removeAttribute('aria-busy'); });
  }
})();
