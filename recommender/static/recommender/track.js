/* Reports clicks on tracked recommendation links, and sends event buttons, to the recommender API.
 *
 * Links inside an element with data-recommender-rec-id and data-recommender-endpoint are
 * reported as "click" events carrying that rec_id, then followed as usual (the page works
 * without this script: the link's URL carries the rec_id too). Forms with
 * data-recommender-event="like" (or any event type) and data-recommender-item are sent to the
 * API instead of reloading the page; without the script they submit normally.
 */
(function () {
  "use strict";
  if (window.recommenderTrack) { return; }

  function csrfToken(el) {
    var holder = el.closest("[data-recommender-csrf]");
    if (holder) { return holder.getAttribute("data-recommender-csrf"); }
    var match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  function endpointFor(el) {
    var holder = el.closest("[data-recommender-endpoint]");
    return holder ? holder.getAttribute("data-recommender-endpoint") : "";
  }

  function send(el, event) {
    var endpoint = endpointFor(el);
    if (!endpoint || !window.fetch) { return Promise.resolve(null); }
    return window.fetch(endpoint, {
      method: "POST",
      credentials: "same-origin",
      keepalive: true,
      headers: {"Content-Type": "application/json", "X-CSRFToken": csrfToken(el)},
      body: JSON.stringify(event)
    }).catch(function () { return null; });
  }

  function onClick(e) {
    var link = e.target.closest && e.target.closest("a[data-recommender-item]");
    if (!link) { return; }
    var list = link.closest("[data-recommender-rec-id]");
    var recId = list ? list.getAttribute("data-recommender-rec-id") : "";
    var item = link.getAttribute("data-recommender-item");
    // One click per item and list: a repeated click is a duplicate the API ignores.
    send(link, {item: item, event_type: "click", rec_id: recId,
                event_id: "click:" + recId + ":" + item});
  }

  function onSubmit(e) {
    var form = e.target;
    if (!form.matches || !form.matches("form[data-recommender-event]")) { return; }
    if (!endpointFor(form)) { return; }
    e.preventDefault();
    var event = {item: form.getAttribute("data-recommender-item"),
                 event_type: form.getAttribute("data-recommender-event")};
    var recId = form.getAttribute("data-recommender-rec-id");
    if (recId) { event.rec_id = recId; }
    send(form, event).then(function (response) {
      var ok = response && response.status < 300;
      form.classList.add(ok ? "recommender-sent" : "recommender-failed");
      var note = form.querySelector("[data-recommender-note]");
      if (note) { note.textContent = ok ? note.getAttribute("data-recommender-note") : "Not sent"; }
    });
  }

  document.addEventListener("click", onClick, true);
  document.addEventListener("submit", onSubmit);
  window.recommenderTrack = {send: send};
})();
