// The Decisions page's live feed: one row per verdict committed, from /api/live (Server-Sent Events).
// Rows are built with textContent and element properties only: a source id holding markup stays text.
(function () {
  const table = document.getElementById("live");
  if (!table || table.dataset.live !== "on") return;
  const state = document.getElementById("live-state");
  const MAX_ROWS = 200;

  function cell(row, text) {
    const td = row.insertCell();
    td.textContent = text;
    return td;
  }

  function shot(eventId) {
    const fig = document.createElement("figure");
    fig.className = "shot thumb";
    fig.dataset.eventId = eventId;
    const img = document.createElement("img");
    img.loading = "lazy";
    img.alt = "image of " + eventId;
    img.src = "/api/images/" + encodeURIComponent(eventId) + "?size=thumb";
    img.onerror = () => fig.classList.add("missing");
    fig.appendChild(img);
    return fig;
  }

  function add(v) {
    const row = table.insertRow(1);
    row.dataset.eventId = v.event_id;
    row.className = "fresh";
    row.insertCell().appendChild(shot(v.event_id));
    const link = document.createElement("a");
    link.href = "/events/" + encodeURIComponent(v.event_id);
    link.textContent = v.event_id;
    row.insertCell().appendChild(link);
    cell(row, v.source_id);
    cell(row, v.captured_at.replace("T", " ").slice(0, 19));
    cell(row, v.roadwork ? "roadwork" : "clear").className = v.roadwork ? "roadwork" : "clear";
    cell(row, v.confidence.toFixed(2));
    cell(row, v.decided_by);
    cell(row, v.degraded ? "degraded" : "");
    while (table.rows.length > MAX_ROWS + 1) table.deleteRow(-1);
  }

  const source = new EventSource("/api/live");
  source.onopen = () => { state.textContent = "connected"; state.className = "on"; };
  source.onerror = () => { state.textContent = "reconnecting…"; state.className = "off"; };
  source.addEventListener("verdict", (e) => add(JSON.parse(e.data)));
})();
