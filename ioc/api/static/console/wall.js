// The wall: inbox, map and KPI tiles, live from /ui/events with no reload.
// State lives on the server; the page re-reads the parts an event touches (debounced),
// and what the stream does not carry (KPIs) at most every 10 s.
(function () {
  "use strict";
  var IOC = window.IOC, el = IOC.el;
  var inboxRoot = document.getElementById("inbox");
  var list = document.getElementById("inbox-list");
  var canAct = inboxRoot.getAttribute("data-can-act") === "yes";
  var params = new URLSearchParams(location.search);
  var filters = { domain: params.get("domain") || "", district: params.get("district") || "", severity: params.get("severity") || "" };
  var wall = (IOC.wall = { lastId: null, heardAt: null, connected: false, known: {}, selectedDistrict: "" });
  var sound = false;

  // ---- freshness -------------------------------------------------------------------
  var fresh = document.getElementById("freshness");
  function showFreshness() {
    if (!wall.connected) {
      fresh.textContent = "connection lost — reconnecting";
      fresh.className = "freshness lost";
      return;
    }
    var ago = wall.heardAt ? (Date.now() - wall.heardAt) / 1000 : 0;
    fresh.textContent = "● live · heard " + IOC.duration(ago) + " ago";
    fresh.className = "freshness";
  }
  setInterval(showFreshness, 1000);

  // ---- the inbox ---------------------------------------------------------------------
  function passes(item) {
    if (filters.severity && item.severity !== filters.severity) return false;
    if (filters.domain) {
      var doms = item.domains || [item.domain];
      if (doms.indexOf(filters.domain) < 0) return false;
    }
    if (filters.district) {
      var dis = item.districts || [item.district];
      if (dis.indexOf(filters.district) < 0) return false;
    }
    return true;
  }

  function sevBadge(sev) {
    var icons = { critical: "⬣", major: "▲", minor: "▼", info: "ℹ" };
    return el("span", { class: "sev sev-" + sev, text: (icons[sev] || "?") + " " + sev });
  }

  function valueText(a) {
    if (a.kind === "absence") return "no data";
    if (a.value === null || a.value === undefined) return "";
    var text = (a.metric ? a.metric + " " : "") + a.value;
    if (a.level !== null && a.level !== undefined) text += " (level " + (a.op || "") + " " + a.level + ")";
    return text;
  }

  function ackControl(id, type) {
    if (!canAct) return null;
    return el("span", {}, [
      el("label", { class: "visually-hidden", for: "sel-" + type + "-" + id, text: "select " + type + " " + id }),
      el("input", { type: "checkbox", id: "sel-" + type + "-" + id, name: type === "alert" ? "ids" : "incident_ids", value: String(id) }),
    ]);
  }

  function alertItem(a, isNew) {
    var acked = a.state !== "firing";
    var li = el("li", { class: "inbox-item sev-border-" + a.severity + (acked ? " is-ack" : "") + (isNew ? " fresh" : ""), "data-alert-id": String(a.id), "data-state": a.state }, [
      acked || !canAct ? el("span", { "aria-hidden": "true" }) : ackControl(a.id, "alert"),
      el("span", {}, [sevBadge(a.severity), " ", el("a", { class: "title", href: "/ui/alerts/" + a.id, text: a.title })]),
      el("span", {}, [
        el("span", { class: "state state-" + a.state, text: a.state === "firing" ? "● firing" : "✓ acknowledged" }),
        " ",
        el("span", { "data-since": a.started_at, "data-prefix": "for " }),
      ]),
      el("span", { class: "meta", text: [a.district, a.domain, a.device_id, valueText(a), a.acknowledged_by ? "ack by " + a.acknowledged_by : ""].filter(Boolean).join(" · ") }),
    ]);
    if (canAct && !acked) {
      li.appendChild(el("span", { class: "meta" }, [el("button", { type: "submit", name: "ids", value: String(a.id), "data-action": "ack-one", text: "Acknowledge" })]));
    }
    return li;
  }

  function incidentItem(inc, children, isNew) {
    var acked = inc.state !== "open";
    var li = el("li", { class: "inbox-item sev-border-" + inc.severity + (acked ? " is-ack" : "") + (isNew ? " fresh" : ""), "data-incident-id": String(inc.id), "data-state": inc.state }, [
      acked || !canAct ? el("span", { "aria-hidden": "true" }) : ackControl(inc.id, "incident"),
      el("span", {}, [sevBadge(inc.severity), " ", el("a", { class: "title", href: "/ui/incidents/" + inc.id, text: inc.title })]),
      el("span", {}, [el("span", { class: "state state-" + inc.state, text: inc.state }), " ", el("span", { "data-since": inc.opened_at, "data-prefix": "for " })]),
      el("span", { class: "meta", text: [(inc.districts || []).join(", "), (inc.domains || []).join(", "), inc.device_count + (inc.device_count === 1 ? " device" : " devices")].join(" · ") }),
    ]);
    if (children.length) {
      li.appendChild(el("ul", { class: "children" }, children.map(function (a) {
        return el("li", {}, [el("a", { href: "/ui/alerts/" + a.id, text: a.title }), " · " + [a.device_id, valueText(a)].filter(Boolean).join(" · ")]);
      })));
    }
    return li;
  }

  function beep() {
    try {
      var ctx = new (window.AudioContext || window.webkitAudioContext)();
      var osc = ctx.createOscillator(); osc.frequency.value = 880; osc.connect(ctx.destination);
      osc.start(); osc.stop(ctx.currentTime + 0.25);
    } catch (e) { /* no audio */ }
  }

  function renderInbox(data) {
    var folded = {};
    var incidents = data.incidents.filter(passes);
    incidents.forEach(function (inc) { (inc.alert_ids || []).forEach(function (id) { folded[id] = inc.id; }); });
    var byId = {};
    data.alerts.forEach(function (a) { byId[a.id] = a; });
    var alerts = data.alerts.filter(function (a) { return !folded[a.id] && passes(a); });
    var first = Object.keys(wall.known).length === 0 && !wall.loadedOnce;
    var seen = {}, newCritical = false;
    var items = [];
    incidents.forEach(function (inc) {
      var key = "i" + inc.id; seen[key] = true;
      var isNew = !first && !wall.known[key];
      if (isNew && inc.severity === "critical") newCritical = true;
      var children = (inc.alert_ids || []).map(function (id) { return byId[id]; }).filter(Boolean);
      items.push(incidentItem(inc, children, isNew));
    });
    alerts.forEach(function (a) {
      var key = "a" + a.id; seen[key] = true;
      var isNew = !first && !wall.known[key];
      if (isNew && a.severity === "critical") newCritical = true;
      items.push(alertItem(a, isNew));
    });
    wall.known = seen;
    wall.loadedOnce = true;
    list.replaceChildren.apply(list, items.length ? items : [el("li", { class: "empty", text: "Nothing open. All clear." })]);
    document.getElementById("inbox-count").textContent = "(" + items.length + " open)";
    IOC.tick(list);
    if (newCritical && sound) beep();
  }

  function json(url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } }).then(function (r) {
      if (r.status === 401) { location.href = "/ui/login?next=" + encodeURIComponent(location.pathname + location.search); }
      if (!r.ok) throw new Error(url + ": " + r.status);
      return r.json();
    });
  }

  function debounce(fn, ms) {
    var timer = null;
    return function () { if (!timer) timer = setTimeout(function () { timer = null; fn(); }, ms); };
  }

  var loadInbox = debounce(function () { json("/ui/data/inbox").then(renderInbox).catch(function () {}); }, 150);

  // acknowledge one (the item's button) or several (the checked boxes), without reload
  var form = document.getElementById("inbox-form");
  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    var body = new URLSearchParams();
    body.append("csrf_token", IOC.csrf());
    var submitter = ev.submitter;
    if (submitter && submitter.getAttribute("data-action") === "ack-one") {
      body.append("ids", submitter.value);
    } else {
      form.querySelectorAll('input[name="ids"]:checked').forEach(function (c) { body.append("ids", c.value); });
      form.querySelectorAll('input[name="incident_ids"]:checked').forEach(function (c) { body.append("incident_ids", c.value); });
    }
    var status = document.getElementById("ack-status");
    fetch("/ui/alerts/ack", {
      method: "POST", credentials: "same-origin", body: body,
      headers: { Accept: "application/json", "X-CSRF-Token": IOC.csrf(), "Content-Type": "application/x-www-form-urlencoded" },
    }).then(function (r) { return r.json(); }).then(function (res) {
      if (status) status.textContent = res.message || "";
      loadInbox();
    }).catch(function () { if (status) status.textContent = "could not acknowledge — try again"; });
  });

  var soundButton = document.getElementById("sound-toggle");
  soundButton.addEventListener("click", function () {
    sound = !sound;
    soundButton.setAttribute("aria-pressed", sound ? "true" : "false");
    soundButton.textContent = sound ? "♪ Sound on" : "♪ Sound off";
  });

  // ---- the map ---------------------------------------------------------------------
  var mapNode = document.getElementById("map");
  var map = L.map(mapNode, { preferCanvas: true, zoomSnap: 0.25, minZoom: 3, maxZoom: 19, attributionControl: false });
  wall.map = map;
  var tiles = mapNode.getAttribute("data-tiles-url");
  if (tiles) L.tileLayer(tiles, { maxZoom: 19 }).addTo(map);
  var clusters = L.markerClusterGroup({
    chunkedLoading: true, maxClusterRadius: 45, disableClusteringAtZoom: 14, showCoverageOnHover: false,
    iconCreateFunction: function (cluster) {
      var alert = cluster.getAllChildMarkers().some(function (m) { return m.options.state !== "normal"; });
      return L.divIcon({ html: "<div>" + cluster.getChildCount() + "</div>", className: "marker-cluster" + (alert ? " has-alert" : ""), iconSize: [40, 40] });
    },
  });
  map.addLayer(clusters);
  var markers = {};

  function icon(id, state) {
    return L.divIcon({ className: "", iconSize: [18, 18], html: '<span class="dev dev-' + state + '" data-device="' + id + '" title="' + id + " · " + state + '"></span>' });
  }

  function selectDistrict(name) {
    wall.selectedDistrict = wall.selectedDistrict === name ? "" : name;
    document.getElementById("kpi-scope").textContent = wall.selectedDistrict ? wall.selectedDistrict : "all districts";
    loadKpis();
  }

  json("/ui/data/districts.geojson").then(function (geo) {
    var layer = L.geoJSON(geo, {
      style: function () { return { color: "#79c0ff", weight: 2, fillOpacity: 0.08 }; },
      onEachFeature: function (f, lyr) {
        var name = f.properties && f.properties.name;
        if (!name) return;
        lyr.bindTooltip(name, { permanent: true, direction: "center", className: "district-label", pane: "shadowPane" });
        lyr.bindPopup('<a href="/ui/districts/' + encodeURIComponent(name) + '">' + name + " — district page</a>");
        lyr.on("click", function () { selectDistrict(name); });
      },
    }).addTo(map);
    layer.bringToBack();
    if (!wall.focused) map.fitBounds(layer.getBounds(), { padding: [10, 10] });
  }).catch(function (err) { console.error("districts:", err); map.setView([0, 0], 2); });

  function loadMap() {
    json("/ui/data/map").then(function (data) {
      var add = [], seen = {};
      data.devices.forEach(function (d) {
        var id = d[0], state = d[3]; seen[id] = true;
        var m = markers[id];
        if (m && m.options.state === state) return;
        if (m) clusters.removeLayer(m);
        m = L.marker([d[1], d[2]], { icon: icon(id, state), state: state, title: id + " (" + state + ")", keyboard: false });
        m.on("click", function () { location.href = "/ui/devices/" + encodeURIComponent(id); });
        markers[id] = m; add.push(m);
      });
      Object.keys(markers).forEach(function (id) { if (!seen[id]) { clusters.removeLayer(markers[id]); delete markers[id]; } });
      clusters.addLayers(add);
      clusters.refreshClusters();
      document.getElementById("map-count").textContent = data.devices.length + " devices";
      var focus = params.get("focus");
      if (focus && markers[focus] && !wall.focused) {
        wall.focused = true;
        clusters.zoomToShowLayer(markers[focus], function () { map.setView(markers[focus].getLatLng(), 16); });
      }
      mapNode.setAttribute("data-loaded", "yes");
    }).catch(function () {});
  }
  var refreshMap = debounce(loadMap, 500);

  // ---- KPI tiles (not on the stream: at most every 10 s) ---------------------------
  var tilesRoot = document.getElementById("tiles");
  function sum(groups, pick) { return groups.reduce(function (n, g) { return n + (pick(g) || 0); }, 0); }
  function minutes(s) { return s === null || s === undefined ? "—" : IOC.duration(s); }
  function mean(groups, pick) {
    var vals = groups.map(pick).filter(function (v) { return v !== null && v !== undefined; });
    return vals.length ? vals.reduce(function (a, b) { return a + b; }, 0) / vals.length : null;
  }
  function renderKpis(data) {
    var byDomain = {};
    data.groups.forEach(function (g) { (byDomain[g.domain] = byDomain[g.domain] || []).push(g); });
    var tiles = Object.keys(byDomain).sort().map(function (dom) {
      var gs = byDomain[dom];
      var open = {}; ["critical", "major", "minor", "info"].forEach(function (s) { open[s] = sum(gs, function (g) { return g.alerts.open[s]; }); });
      var ind = {};
      gs.forEach(function (g) { Object.keys(g.indicators || {}).forEach(function (k) { if (g.indicators[k] !== null) (ind[k] = ind[k] || []).push(g.indicators[k]); }); });
      var rows = [
        el("div", { class: "row" }, [el("span", { text: "reporting / registered" }), el("span", { class: "big", text: sum(gs, function (g) { return g.devices.reporting; }) + " / " + sum(gs, function (g) { return g.devices.registered; }) })]),
        el("div", { class: "row" }, [el("span", { text: "open alerts" }), el("span", {}, ["critical", "major", "minor", "info"].filter(function (s) { return open[s]; }).map(function (s) { return el("span", { class: "sev sev-" + s, text: s + " " + open[s] }); }).concat(open.critical + open.major + open.minor + open.info ? [] : [el("span", { text: "none" })]))]),
        el("div", { class: "row" }, [el("span", { text: "MTTA · MTTR (7 d)" }), el("span", { text: minutes(mean(gs, function (g) { return g.alerts.mean_time_to_ack_s; })) + " · " + minutes(mean(gs, function (g) { return g.alerts.mean_time_to_resolve_s; })) })]),
      ];
      Object.keys(ind).slice(0, 3).forEach(function (k) {
        var v = ind[k].reduce(function (a, b) { return a + b; }, 0) / ind[k].length;
        rows.push(el("div", { class: "row" }, [el("span", { text: k.replace(/_/g, " ") }), el("span", { text: String(Math.round(v * 10) / 10) })]));
      });
      return el("article", { class: "tile", "data-domain": dom }, [el("h3", { text: dom })].concat(rows));
    });
    tilesRoot.replaceChildren.apply(tilesRoot, tiles.length ? tiles : [el("p", { class: "empty", text: "No devices yet." })]);
  }
  function loadKpis() {
    var q = wall.selectedDistrict ? "?district=" + encodeURIComponent(wall.selectedDistrict) : "";
    json("/ui/data/kpis" + q).then(renderKpis).catch(function () {});
  }
  setInterval(loadKpis, 10000);

  // ---- the stream --------------------------------------------------------------------
  var source = null;
  function connect() {
    var url = "/ui/events" + (wall.lastId ? "?after=" + wall.lastId : "");
    source = new EventSource(url);
    wall.source = source;
    source.onopen = function () {
      wall.connected = true; wall.heardAt = Date.now(); showFreshness();
      loadInbox(); refreshMap();  // catch up on the state as well as the events
    };
    var onEvent = function (ev) {
      wall.heardAt = Date.now();
      if (ev.lastEventId) wall.lastId = ev.lastEventId;
      if (ev.type.indexOf("device.") === 0) refreshMap();
      else { loadInbox(); refreshMap(); }
    };
    ["alert.opened", "alert.acknowledged", "alert.resolved", "device.online", "device.offline",
     "incident.opened", "incident.updated", "incident.acknowledged", "incident.resolved", "incident.closed"].forEach(function (k) {
      source.addEventListener(k, onEvent);
    });
    source.onmessage = onEvent;
    source.onerror = function () {
      wall.connected = false; showFreshness();
      if (source.readyState === EventSource.CLOSED) { setTimeout(connect, 3000); }
    };
  }
  wall.reconnect = function () { if (source) source.close(); wall.connected = false; connect(); };

  loadInbox(); loadMap(); loadKpis(); connect();
})();
