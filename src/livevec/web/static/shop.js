// The shop page: the shopper's recommendations, pushed by /recommendations/stream whenever they
// change, and the admin's product table, kept current by the products that /events carries.
// Product text only ever reaches the page through textContent (never as HTML).
// The shopper view shows either a profile text's matches (no shopper picked) or a shopper's
// recommendations, which follow their likes and dismissals; "More like this" swaps in one product's
// nearest neighbours until "Back". A server started with a token wants it for catalog writes and
// the list of shoppers: the admin panel asks for it and keeps it for this tab only (sessionStorage).
// A shopper's profile, events and streams go with a shopper token for them, minted for this page
// (POST /users/{id}/token) as a shop's backend would mint it for that shopper's own page.
"use strict";

const PAGE_SIZE = 25;
const FLASH_MS = 2500;
const TOKEN_KEY = "livevec-admin-token";
const TOKEN_MARGIN_S = 60; // a shopper token this close to expiring is minted again
const USERS_PAGE = 1000;

const $ = (selector) => document.querySelector(selector);
const money = new Intl.NumberFormat("en-US", { style: "currency", currency: "USD" });

const state = {
  page: 0,
  user: "", // the shopper picked, "" for none
  profiles: new Map(), // shopper id -> their profile text (null when none)
  anonymousProfile: "", // the text typed while no shopper is picked, restored on coming back
  profileEdit: null, // { user, text } of the profile being typed, saved shortly after the last key
  similarTo: null, // the product whose "More like this" is shown, or null
  editing: null, // the product being edited in the form, or null when adding
  requests: { recs: 0, products: 0 },
  changedAt: new Map(), // product id -> when its last created/updated event arrived
  flashes: { recs: new Map(), products: new Map() }, // id -> { changedAt, until }
  source: null, // the EventSource following the changes (and the picked shopper's activity)
  recsSource: null, // the EventSource of the shopper view's recommendations
  shown: null, // product id -> its JSON, as the last recommendations showed it (null: a new list)
  shopperTokens: new Map(), // shopper id -> { token, expires_at } for this page
  admin: false, // may this page list the shoppers (no token wanted, or the admin's given)?
};

// --- helpers ------------------------------------------------------------------------------------

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = text;
  return node;
}

function formatPrice(price) {
  return price === null || price === undefined ? "—" : money.format(price);
}

// A request with the admin token if there is one, or `asShopper`'s shopper token.
async function api(method, path, body, asShopper) {
  const options = { method, headers: {} };
  const token = asShopper ? await shopperToken(asShopper) : sessionStorage.getItem(TOKEN_KEY);
  if (token) options.headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  const response = await fetch(path, options);
  if (response.status === 401 && asShopper) state.shopperTokens.delete(asShopper); // mint anew next time
  else if (response.status === 401 && token) lockAdmin("The shop refused the token: give it again.");
  if (response.status === 204) return null;
  const data = await response.json();
  if (!response.ok) throw Object.assign(new Error(describeError(data, response.status)), { status: response.status });
  return data;
}

function describeError(data, status) {
  const detail = data && data.detail;
  if (Array.isArray(detail)) {
    return detail
      .map((d) => {
        const where = (d.loc || []).filter((part) => part !== "body" && part !== "query").join(".");
        return where ? `${where}: ${d.msg}` : d.msg;
      })
      .join("; ");
  }
  return typeof detail === "string" ? detail : `request failed (${status})`;
}

// Runs `fn` at once, then at most once every `ms` (a call meanwhile runs it once more at the end).
function throttle(fn, ms) {
  let waiting = false;
  let again = false;
  const run = () => {
    waiting = true;
    fn();
    setTimeout(() => {
      waiting = false;
      if (again) {
        again = false;
        run();
      }
    }, ms);
  };
  return () => (waiting ? (again = true) : run());
}

function debounce(fn, ms) {
  let timer = null;
  return () => {
    clearTimeout(timer);
    timer = setTimeout(fn, ms);
  };
}

// A changed product's card or row is highlighted once, by the first render whose data was fetched
// after the change arrived; a render during the highlight (re-ranking) keeps it going.
function flash(kind, node, id, fetchedAt) {
  const flashes = state.flashes[kind];
  const changed = state.changedAt.get(id);
  let entry = flashes.get(id);
  if (changed !== undefined && changed <= fetchedAt && (!entry || entry.changedAt !== changed)) {
    entry = { changedAt: changed, until: performance.now() + FLASH_MS };
    flashes.set(id, entry);
  }
  const left = entry ? entry.until - performance.now() : 0;
  if (left > 0) {
    node.classList.add("flash");
    node.style.animationDelay = `${-(FLASH_MS - left)}ms`;
  }
}

// --- shopper view -------------------------------------------------------------------------------

function shopper() {
  return $("#user").value;
}

// A shopper token for `user`, minted with the admin token (or freely by a server without one), kept
// until it is about to expire.
async function shopperToken(user) {
  const held = state.shopperTokens.get(user);
  if (held && held.expires_at - Date.now() / 1000 > TOKEN_MARGIN_S) return held.token;
  const minted = await api("POST", `/users/${encodeURIComponent(user)}/token`);
  state.shopperTokens.set(user, minted);
  return minted.token;
}

function recommendationCard(product, fetchedAt) {
  const card = el("li", "card");
  card.dataset.id = product.id;
  const top = el("div", "card-top");
  top.append(el("span", "card-name", product.name), el("span", "card-price", formatPrice(product.price)));
  const match = el("div", "card-match");
  if (product.distance !== null) {
    const meter = el("span", "meter");
    const fill = el("span");
    fill.style.width = `${Math.max(0, Math.min(1, product.score)) * 100}%`;
    meter.append(fill);
    match.append(meter, el("span", "card-score", `${Math.round(product.score * 100)}% match`));
  }
  card.append(
    top,
    el("span", "card-category", product.category || "uncategorised"),
    el("p", "card-description", product.description),
    match,
  );
  // a profile text's matches all match that text: the reason only says something for a shopper
  if (shopper() || state.similarTo) card.append(el("p", "card-reason", product.reason));
  const actions = el("div", "card-actions");
  if (shopper()) {
    actions.append(
      actionButton("Like", "like", () => recordEvent(product, "like")),
      actionButton("Not for me", "dismiss", () => recordEvent(product, "dismiss")),
    );
  }
  actions.append(actionButton("More like this", "more link", () => showSimilar(product)));
  card.append(actions);
  flash("recs", card, product.id, fetchedAt);
  return card;
}

function actionButton(text, className, onClick) {
  const button = el("button", className, text);
  button.type = "button";
  button.addEventListener("click", onClick);
  return button;
}

// What the shopper view shows now: where to get it, what the status line calls it, what to say if empty.
function recommendationsRequest() {
  const params = new URLSearchParams({ limit: $("#count").value });
  if (state.similarTo) {
    const path = `/products/${encodeURIComponent(state.similarTo.id)}/similar`;
    return { path, params, label: `like “${state.similarTo.name}”`, empty: "Nothing else like it." };
  }
  if (shopper()) {
    params.set("user_id", shopper());
    return { path: "/recommendations", params, label: `for ${shopper()}`, empty: "Nothing left to show." };
  }
  const profile = $("#profile").value.trim();
  if (!profile) return null;
  params.set("profile", profile);
  params.set("distance_threshold", $("#threshold").value);
  const empty = "Nothing this close: raise the max distance.";
  return { path: "/recommendations", params, label: "best match first", empty };
}

// The recommendations follow /recommendations/stream: the server sends them now and again each time
// they change. "More like this" is fetched, and fetched again when a product changes.
async function loadRecommendations() {
  const request = ++state.requests.recs;
  if (state.recsSource) state.recsSource.close();
  state.recsSource = null;
  state.shown = null;
  const status = $("#recs-status");
  // the distance slider is for a profile text's matches
  $("#threshold").disabled = Boolean(shopper() || state.similarTo);
  const wanted = recommendationsRequest();
  if (!wanted) {
    $("#recs").replaceChildren();
    status.textContent = "Type what the shopper likes to see recommendations.";
    return;
  }
  if (state.similarTo) return loadSimilar(request, wanted);
  if (wanted.params.has("user_id")) {
    try {
      // an EventSource sends no Authorization header: the shopper token goes in the URL
      wanted.params.set("token", await shopperToken(wanted.params.get("user_id")));
    } catch (error) {
      status.textContent = error.message;
      return;
    }
    if (request !== state.requests.recs) return; // another list was asked for meanwhile
  }
  const source = new EventSource(`/recommendations/stream?${wanted.params}`);
  state.recsSource = source;
  source.onmessage = (message) => {
    if (source === state.recsSource) showCards(JSON.parse(message.data).items, wanted);
  };
  source.onerror = () => {
    if (source !== state.recsSource || source.readyState !== EventSource.CLOSED) return;
    status.textContent = "Reconnecting…";
    setTimeout(() => source === state.recsSource && loadRecommendations(), 3000);
  };
}

async function loadSimilar(request, wanted) {
  try {
    const items = await api("GET", `${wanted.path}?${wanted.params}`);
    if (request === state.requests.recs) showCards(items, wanted);
  } catch (error) {
    if (request !== state.requests.recs) return;
    if (error.status === 404) return showRecommendations(); // that product is gone
    $("#recs-status").textContent = error.message;
  }
}

// A card new to the list, or whose product changed, is highlighted.
function showCards(items, wanted) {
  const now = performance.now();
  const previous = state.shown;
  state.shown = new Map(items.map((p) => [p.id, JSON.stringify(p)]));
  for (const [id, json] of state.shown) {
    if (previous && previous.get(id) !== json) state.changedAt.set(id, now);
  }
  $("#recs").replaceChildren(...items.map((p) => recommendationCard(p, now)));
  $("#recs-status").textContent = items.length
    ? `${items.length} ${items.length === 1 ? "product" : "products"}, ${wanted.label}`
    : wanted.empty;
}

const scheduleRecommendations = debounce(loadRecommendations, 250);

// --- shoppers -----------------------------------------------------------------------------------

// Every shopper, a page at a time; a server with a token lists them only to its admin.
async function fetchUsers() {
  const users = [];
  for (;;) {
    const params = new URLSearchParams({ limit: USERS_PAGE });
    if (users.length) params.set("after", users[users.length - 1].user_id);
    const page = await api("GET", `/users?${params}`);
    users.push(...page);
    if (page.length < USERS_PAGE) return users;
  }
}

async function loadUsers() {
  try {
    let users = [];
    try {
      users = await fetchUsers();
    } catch (error) {
      if (error.status !== 401) throw error; // without the admin token, "Anyone" is the one choice
    }
    state.profiles = new Map(users.map((u) => [u.user_id, u.profile]));
    const select = $("#user");
    const picked = select.value;
    const options = [["", "Anyone"], ...users.map((u) => [u.user_id, u.user_id])];
    select.replaceChildren(...options.map(([value, text]) => Object.assign(el("option", null, text), { value })));
    select.value = picked; // shoppers are never removed
    if (picked && document.activeElement !== $("#profile")) {
      $("#profile").value = state.profiles.get(picked) ?? ""; // changed by another client, maybe
    }
  } catch (error) {
    $("#recs-status").textContent = error.message;
  }
}

// The whole list again only when the stream cannot say which shopper changed (a server with a token,
// for its admin); at most every few seconds however often shoppers change.
const scheduleUsers = throttle(loadUsers, 3000);

// One shopper changed (new, or a new profile): fetch that one, not the list.
async function refreshUser(user) {
  try {
    const fresh = await api("GET", `/users/${encodeURIComponent(user)}`, undefined, user);
    const known = state.profiles.has(user);
    state.profiles.set(user, fresh.profile);
    if (!known) {
      const select = $("#user");
      const option = Object.assign(el("option", null, user), { value: user });
      const after = [...select.options].find((o) => o.value && o.value > user);
      select.insertBefore(option, after || null); // in id order, as GET /users lists them
    }
    if (user === shopper() && document.activeElement !== $("#profile")) {
      $("#profile").value = fresh.profile ?? ""; // changed by another client, maybe
    }
  } catch (error) {
    if (error.status !== 401 && error.status !== 404) $("#recs-status").textContent = error.message;
  }
}

function pickUser() {
  const user = shopper();
  if (!state.user) state.anonymousProfile = $("#profile").value;
  const changed = user !== state.user;
  state.user = user;
  if (changed) follow(); // a shopper's activity comes only on a stream that asks for them
  $("#profile").value = user ? (state.profiles.get(user) ?? "") : state.anonymousProfile;
  $("#profile").placeholder = user ? `What does ${user} like? (optional)` : "";
  showRecommendations();
}

async function addUser() {
  const name = $("#new-user").value.trim();
  if (!name) return;
  try {
    if (!state.profiles.has(name)) {
      // the new shopper starts with the text in the box as their profile
      const profile = $("#profile").value.trim() || null;
      await api("PUT", `/users/${encodeURIComponent(name)}`, { profile }, name);
      await loadUsers();
    }
    $("#user").value = name;
    $("#new-user").value = "";
    pickUser();
  } catch (error) {
    $("#recs-status").textContent = error.message;
  }
}

// A picked shopper's profile is saved as it is typed (to that shopper, even if another is picked
// meanwhile); their recommendations follow.
function editProfile() {
  state.profileEdit = { user: shopper(), text: $("#profile").value.trim() };
  saveProfile();
}

const saveProfile = debounce(async () => {
  const { user, text } = state.profileEdit;
  try {
    const saved = await api("PUT", `/users/${encodeURIComponent(user)}`, { profile: text || null }, user);
    state.profiles.set(user, saved.profile);
    loadRecommendations();
  } catch (error) {
    $("#recs-status").textContent = error.message;
  }
}, 400);

async function recordEvent(product, kind) {
  const user = shopper();
  try {
    // the recommendations stream brings the new list
    await api("POST", `/users/${encodeURIComponent(user)}/events`, { product_id: product.id, kind }, user);
  } catch (error) {
    $("#recs-status").textContent = error.message;
  }
}

function showSimilar(product) {
  state.similarTo = { id: product.id, name: product.name };
  $("#similar-title").textContent = `More like “${product.name}”`;
  $("#similar-bar").hidden = false;
  // opening a product's neighbours is a view of it: it nudges the shopper's taste
  if (shopper()) recordEvent(product, "view");
  loadRecommendations();
}

function showRecommendations() {
  state.similarTo = null;
  $("#similar-bar").hidden = true;
  loadRecommendations();
}

// --- admin panel --------------------------------------------------------------------------------

function productRow(product, fetchedAt) {
  const row = el("tr");
  row.dataset.id = product.id;
  row.dataset.name = product.name;
  if (state.editing && state.editing.id === product.id) row.classList.add("editing");
  const edit = el("button", "link", "Edit");
  edit.type = "button";
  edit.addEventListener("click", () => startEditing(product));
  const remove = el("button", "link danger", "Delete");
  remove.type = "button";
  remove.addEventListener("click", () => deleteProduct(product));
  const actions = el("td", "actions");
  actions.append(edit, remove);
  const name = el("td", "name", product.name);
  // on phones the category goes under the name; a break may follow each "/" of a long path
  name.append(el("span", "row-category", product.category.replaceAll("/", "/\u200b")));
  row.append(
    name,
    el("td", "category", product.category),
    el("td", "num price", formatPrice(product.price)),
    actions,
  );
  flash("products", row, product.id, fetchedAt);
  return row;
}

// The table shows a page of products by name, or, with text in the find box, the nearest matches.
async function loadProducts() {
  const request = ++state.requests.products;
  const find = $("#find").value.trim();
  const fetchedAt = performance.now();
  try {
    const params = new URLSearchParams({ offset: state.page * PAGE_SIZE, limit: PAGE_SIZE, order_by: "name" });
    const [page, matches] = await Promise.all([
      api("GET", `/products?${params}`),
      find ? api("GET", `/search?${new URLSearchParams({ q: find, limit: PAGE_SIZE })}`) : null,
    ]);
    if (request !== state.requests.products) return;
    $("#total").textContent = `${page.total} ${page.total === 1 ? "product" : "products"}`;
    if (matches) {
      $("#products tbody").replaceChildren(...matches.map((p) => productRow(p, fetchedAt)));
      $("#page-info").textContent = `best ${matches.length} matches`;
      $("#prev").disabled = $("#next").disabled = true;
      return;
    }
    if (page.items.length === 0 && state.page > 0 && page.total > 0) {
      state.page = Math.floor((page.total - 1) / PAGE_SIZE); // the last page emptied: step back
      return loadProducts();
    }
    $("#products tbody").replaceChildren(...page.items.map((p) => productRow(p, fetchedAt)));
    const first = page.total ? page.offset + 1 : 0;
    $("#page-info").textContent = `${first}–${page.offset + page.items.length} of ${page.total}`;
    $("#prev").disabled = state.page === 0;
    $("#next").disabled = page.offset + page.items.length >= page.total;
  } catch (error) {
    if (request === state.requests.products) showMessage(error.message, true);
  }
}

function showMessage(text, isError = false) {
  const message = $("#form-message");
  message.textContent = text;
  message.classList.toggle("error", isError);
}

function startEditing(product) {
  state.editing = product;
  $("#f-name").value = product.name;
  $("#f-category").value = product.category;
  $("#f-price").value = product.price === null ? "" : product.price;
  $("#f-description").value = product.description;
  $("#save").textContent = "Save changes";
  $("#cancel-edit").hidden = false;
  showMessage(`Editing ${product.id}`);
  for (const row of document.querySelectorAll("#products tbody tr")) {
    row.classList.toggle("editing", row.dataset.id === product.id);
  }
  $("#f-name").focus();
}

function resetForm() {
  state.editing = null;
  $("#product-form").reset();
  $("#save").textContent = "Add product";
  $("#cancel-edit").hidden = true;
  for (const row of document.querySelectorAll("#products tbody tr.editing")) row.classList.remove("editing");
}

async function saveProduct(event) {
  event.preventDefault();
  const priceText = $("#f-price").value.trim();
  const fields = {
    name: $("#f-name").value.trim(),
    category: $("#f-category").value.trim(),
    price: priceText === "" ? null : Number(priceText),
    description: $("#f-description").value.trim(),
  };
  const editing = state.editing;
  $("#save").disabled = true;
  try {
    const saved = editing
      ? await api("PATCH", `/products/${encodeURIComponent(editing.id)}`, fields)
      : await api("POST", "/products", fields);
    resetForm();
    showMessage(editing ? `Saved “${saved.name}”` : `Added “${saved.name}”`);
  } catch (error) {
    showMessage(error.message, true);
  } finally {
    $("#save").disabled = false;
  }
}

async function deleteProduct(product) {
  if (!window.confirm(`Delete “${product.name}”?`)) return;
  try {
    await api("DELETE", `/products/${encodeURIComponent(product.id)}`);
    if (state.editing && state.editing.id === product.id) resetForm();
    showMessage(`Deleted “${product.name}”`);
  } catch (error) {
    showMessage(error.message, true);
  }
}

// --- the admin's token ---------------------------------------------------------------------------

async function checkAdmin() {
  try {
    const status = await api("GET", "/auth");
    if (status.authorized) unlockAdmin();
    else lockAdmin(sessionStorage.getItem(TOKEN_KEY) ? "That is not this shop's token." : "");
  } catch (error) {
    showMessage(error.message, true);
  }
}

function lockAdmin(message) {
  state.admin = false;
  sessionStorage.removeItem(TOKEN_KEY);
  $(".admin").classList.add("locked");
  $("#token-form").hidden = false;
  $("#token-message").textContent = message;
  $("#token-message").classList.toggle("error", Boolean(message));
}

function unlockAdmin() {
  state.admin = true;
  $(".admin").classList.remove("locked");
  $("#token-form").hidden = true;
}

async function submitToken(event) {
  event.preventDefault();
  sessionStorage.setItem(TOKEN_KEY, $("#token").value.trim());
  $("#token").value = "";
  await checkAdmin();
  loadUsers(); // the admin may list the shoppers
}

// --- live updates -------------------------------------------------------------------------------

const refreshAll = debounce(() => {
  if (state.similarTo) loadRecommendations(); // the streamed lists follow by themselves
  loadProducts();
}, 80);

const scheduleProducts = debounce(loadProducts, 300);

// The product an /events message carries goes straight into its row; only a product added or
// removed (the page and its total change), renamed (the order changes) or anything while the find
// box ranks matches fetches the page again, at most once per burst.
function applyToTable(change) {
  const row = [...$("#products tbody").rows].find((r) => r.dataset.id === String(change.id));
  const finding = Boolean($("#find").value.trim());
  if (change.op === "updated" && row && !finding && row.dataset.name === change.product.name) {
    row.replaceWith(productRow(change.product, performance.now()));
  } else if (change.op !== "updated" || finding || row) {
    scheduleProducts();
  }
}

function setLive(mode, text) {
  $("#live").dataset.state = mode;
  $("#live-text").textContent = text;
}

// Follows every product change, and the picked shopper's activity (another shopper's is not ours to
// see: the stream asks for theirs with their shopper token).
// `lost`: the stream before this one was lost, so what changed meanwhile is fetched again.
async function follow(lost = false) {
  if (state.source) state.source.close();
  state.source = null;
  const user = shopper();
  let path = "/events";
  if (user) {
    let token;
    try {
      token = await shopperToken(user);
    } catch (error) {
      setLive("off", "offline");
      setTimeout(() => user === shopper() && !state.source && follow(true), 3000);
      return;
    }
    if (user !== shopper()) return; // another shopper was picked meanwhile, and followed
    path = `/events?${new URLSearchParams({ user_id: user, token })}`;
  }
  if (state.source) state.source.close();
  const source = new EventSource(path);
  state.source = source;
  source.onopen = () => {
    setLive("on", "live");
    refreshAll(); // catch up with anything that changed while we were not listening
    if (lost && state.admin) scheduleUsers(); // and with the shoppers, whose news we may have missed
  };
  source.onerror = () => {
    if (source !== state.source) return; // replaced by a stream for another shopper
    if (source.readyState === EventSource.CLOSED) {
      setLive("off", "offline");
      setTimeout(() => source === state.source && follow(true), 3000);
    } else {
      setLive("connecting", "reconnecting");
    }
  };
  source.onmessage = (message) => {
    const change = JSON.parse(message.data);
    if (change.op === "shoppers") {
      // a new shopper or profile somewhere: which one, where the server may say
      return change.user_id ? refreshUser(change.user_id) : state.admin && scheduleUsers();
    }
    if (change.op === "activity") {
      // a new shopper or profile changes the picker (their list follows its own stream)
      if (change.kind === "profile") refreshUser(change.user_id);
      return;
    }
    if (change.op === "created" || change.op === "updated") {
      state.changedAt.set(change.id, performance.now());
    } else if (change.op === "deleted" && state.editing && state.editing.id === change.id) {
      resetForm();
      showMessage("The product you were editing was deleted.", true);
    }
    if (change.op === "reset") return refreshAll();
    applyToTable(change);
    if (state.similarTo) scheduleRecommendations();
  };
}

// --- wiring -------------------------------------------------------------------------------------

document.addEventListener("DOMContentLoaded", () => {
  $("#profile-form").addEventListener("submit", (event) => event.preventDefault());
  $("#profile").addEventListener("input", () => (shopper() ? editProfile() : scheduleRecommendations()));
  $("#user").addEventListener("change", pickUser);
  $("#add-user").addEventListener("click", addUser);
  $("#new-user").addEventListener("keydown", (event) => {
    if (event.key === "Enter") {
      event.preventDefault();
      addUser();
    }
  });
  $("#back").addEventListener("click", showRecommendations);
  $("#profile").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      loadRecommendations();
    }
  });
  $("#threshold").addEventListener("input", () => {
    $("#threshold-value").textContent = Number($("#threshold").value).toFixed(2);
    scheduleRecommendations();
  });
  $("#count").addEventListener("change", loadRecommendations);
  $("#find").addEventListener("input", debounce(loadProducts, 250));
  $("#product-form").addEventListener("submit", saveProduct);
  $("#token-form").addEventListener("submit", submitToken);
  $("#cancel-edit").addEventListener("click", () => {
    resetForm();
    showMessage("");
  });
  $("#prev").addEventListener("click", () => {
    state.page = Math.max(0, state.page - 1);
    loadProducts();
  });
  $("#next").addEventListener("click", () => {
    state.page += 1;
    loadProducts();
  });
  checkAdmin();
  loadUsers();
  loadRecommendations();
  loadProducts();
  follow();
});
