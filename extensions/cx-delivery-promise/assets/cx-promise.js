/*
 * cx-promise.js: fills the delivery-promise app blocks ([data-cx-promise]) with the app's answer.
 *
 * Each block asks the app proxy once:
 *   GET {data-cx-proxy}?product_id=&variant_id=&country=&locale=    (product block)
 *   GET {data-cx-proxy}?product_ids=1,2,3&country=&locale=           (cart block)
 * and writes the answer into the block's fixed-height lines (the block never changes size); the returns
 * line ("Free returns within 30 days of delivery", "Final sale") shows even where no promise is served.
 * The countdown is counted from seconds_to_cutoff at the moment the answer arrived and ticks on
 * each minute boundary; once the cutoff has passed the block asks again, as the dates have moved.
 * The cart block saves what it shows in the cart attribute "_cx_promise" (only when it changed).
 * No dependencies; loaded once per page however many blocks include it.
 */
(function (w, d) {
  'use strict';
  if (w.CxPromise) { w.CxPromise.scan(); return; }

  var perf = w.performance;
  var MIN_REFETCH_MS = 10000;  // never ask again sooner than this after a cutoff (clock skew, stale caches)
  var MAX_CACHE_AGE = 60;      // seconds: the app lets browsers cache an answer this long

  function now() { return perf && perf.now ? perf.now() : Date.now(); }

  // "{dates}" / "{countdown}" / "{h}" / "{m}" → values; known names without a value become "".
  function fill(tpl, vals) {
    return String(tpl == null ? '' : tpl).replace(/\{(\w+)\}/g, function (m, k) {
      return Object.prototype.hasOwnProperty.call(vals, k) ? (vals[k] == null ? '' : vals[k]) : m;
    }).replace(/\s+/g, ' ').trim();
  }

  function numbers(locale) {
    try { return new Intl.NumberFormat(locale || undefined); } catch (e) { return new Intl.NumberFormat(); }
  }

  // Seconds left before the cutoff now, or null when the answer has no cutoff.
  function left(st) {
    var s = st.data && st.data.seconds_to_cutoff;
    return typeof s === 'number' ? s - st.age - (now() - st.at) / 1000 : null;
  }

  // "3 h 12 min" / "12 min" from the server's templates; minutes round up (59 s left is "1 min").
  function countdown(st, secs) {
    var t = st.data.text || {}, mins = Math.ceil(secs / 60), h = Math.floor(mins / 60), n = numbers(st.data.locale || st.d.cxLocale);
    return fill(h ? (t.hours_minutes || '{h} h {m} min') : (t.minutes || '{m} min'), { h: n.format(h), m: n.format(mins % 60) });
  }

  function line(st, name, text) {
    var el = st.el.querySelector('[data-cx-line="' + name + '"]');
    if (!el) return;
    el.classList.remove('cx-skel');
    text = text || '';
    if (el.textContent !== text) el.textContent = text;
    if (text) el.title = text; else el.removeAttribute('title');
  }

  // Hidden blocks keep their space (visibility, never display) so nothing below them moves.
  function state(st, name) {
    st.el.setAttribute('data-cx-state', name);
    st.el.style.visibility = name === 'hidden' || name === 'error' ? 'hidden' : '';
  }

  function url(st) {
    var ds = st.d, q = [];
    function add(k, v) { if (v) q.push(k + '=' + encodeURIComponent(v).replace(/%2C/gi, ',')); }
    if (ds.cxPromise === 'cart') add('product_ids', ds.cxProductIds);
    else { add('product_id', ds.cxProductId); add('variant_id', ds.cxVariantId); }
    add('country', ds.cxCountry);
    add('locale', ds.cxLocale);
    return (ds.cxProxy || '/apps/cx/promise') + '?' + q.join('&');
  }

  // How old a cached answer is (0 for one fresh from the network): its seconds_to_cutoff was true then.
  function cacheAge(res, u) {
    try {
      var e = perf.getEntriesByName(new URL(u, location.href).href).pop(), date = Date.parse(res.headers.get('Date'));
      if (!e || e.transferSize !== 0 || !e.decodedBodySize || !date) return 0;
      return Math.min(MAX_CACHE_AGE, Math.max(0, (Date.now() - date) / 1000));
    } catch (err) { return 0; }
  }

  function load(st, fresh) {
    clearTimeout(st.timer);
    var seq = ++st.seq, u = url(st), res;
    st.loaded = now();
    st.el.setAttribute('aria-busy', 'true');
    fetch(u, { credentials: 'same-origin', cache: fresh ? 'no-cache' : 'default', headers: { Accept: 'application/json' } })
      .then(function (r) { if (!r.ok) throw new Error('HTTP ' + r.status); res = r; return r.json(); })
      .then(function (data) {
        if (seq !== st.seq) return;
        if (!data || typeof data !== 'object') throw new Error('no answer');
        st.data = data;
        st.at = now();
        st.age = cacheAge(res, u);
        show(st);
      })
      .catch(function () {
        if (seq !== st.seq) return;
        st.el.removeAttribute('aria-busy');
        state(st, 'error');
      });
  }

  function show(st) {
    var data = st.data, t = data.text || {}, ds = st.d, el = st.el, secs = left(st), cd = '', vals;
    clearTimeout(st.timer);
    el.setAttribute('dir', data.dir === 'rtl' ? 'rtl' : 'ltr');
    if (data.locale) el.setAttribute('lang', data.locale);
    el.removeAttribute('aria-busy');
    if (!data.served) {
      line(st, 'arrival', t.not_served);
      line(st, 'countdown', '');
      line(st, 'returns', data.returns_text);
      return state(st, t.not_served || data.returns_text ? 'not-served' : 'hidden');
    }
    if (secs !== null && secs > 0) cd = countdown(st, secs);
    vals = { dates: t.dates, countdown: cd };
    line(st, 'arrival', ds.cxArrivalText ? fill(ds.cxArrivalText, vals) : t.arrival);
    line(st, 'countdown', cd ? fill(ds.cxCountdownText || t.countdown, vals) : '');
    line(st, 'returns', data.returns_text);
    state(st, 'ready');
    if (secs !== null && secs > 0) {
      // Next minute boundary of the time left (when the rounded-up minutes change), or the cutoff.
      st.timer = setTimeout(function () { tick(st); }, ((secs % 60) || 60) * 1000 + 50);
    }
    if (ds.cxPromise === 'cart') save(st);
  }

  function tick(st) {
    var secs = left(st), wait;
    if (secs === null || secs > 0) return show(st);
    wait = MIN_REFETCH_MS - (now() - st.loaded);
    if (wait > 0) st.timer = setTimeout(function () { load(st, true); }, wait);
    else load(st, true);
  }

  // Cart attribute "_cx_promise": what the shopper was promised, written only when the dates changed.
  function save(st) {
    var data = st.data, key, was;
    if (!data.earliest || !data.latest) return;
    key = data.earliest + '/' + data.latest;
    if (st.saved === undefined) {
      try { was = JSON.parse(st.d.cxCartPromise || 'null'); } catch (e) { was = null; }
      st.saved = was && was.earliest && was.latest ? was.earliest + '/' + was.latest : null;
    }
    if (st.saved === key) return;
    st.saved = key;
    var root = (w.Shopify && w.Shopify.routes && w.Shopify.routes.root) || '/';
    var value = JSON.stringify({ earliest: data.earliest, latest: data.latest, shown_at: new Date().toISOString() });
    try {
      fetch(root + 'cart/update.js', {
        method: 'POST',
        credentials: 'same-origin',
        headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
        body: JSON.stringify({ attributes: { _cx_promise: value } })
      }).then(function (r) {
        if (r.ok) st.d.cxCartPromise = value;
      }, function () {});
    } catch (e) { /* the promise is still shown; the order just won't record it */ }
  }

  function init(el) {
    if (el._cx) return;
    el._cx = { el: el, d: el.dataset, seq: 0, timer: 0, at: 0, age: 0, loaded: -Infinity };
    load(el._cx);
  }

  function each(root, fn) {
    var els = (root && root.querySelectorAll ? root : d).querySelectorAll('[data-cx-promise]');
    for (var i = 0; i < els.length; i++) fn(els[i]);
  }

  function scan(root) { each(root, init); }

  function stop(root) {
    each(root, function (el) { if (el._cx) { clearTimeout(el._cx.timer); el._cx.seq++; } });
  }

  w.CxPromise = {
    scan: scan,
    // Ask again, e.g. after a theme changed data-cx-variant-id or the cart changed.
    refresh: function (el) {
      function again(b) { if (b._cx) load(b._cx, true); else init(b); }
      if (el) again(el); else each(d, again);
    }
  };

  // Theme editor: blocks come and go with their sections.
  d.addEventListener('shopify:section:load', function (e) { scan(e.target); });
  d.addEventListener('shopify:section:unload', function (e) { stop(e.target); });

  if (d.readyState === 'loading') d.addEventListener('DOMContentLoaded', function () { scan(); });
  else scan();
})(window, document);
