// Live fragments: an element with data-live="URL" takes what URL answers every
// data-every seconds while the page is visible, until an answer says X-Live-Done.
"use strict";
for (const element of document.querySelectorAll("[data-live]")) {
  const every = 1000 * Number(element.dataset.every || 5);
  let last = null;
  const tick = async () => {
    if (document.visibilityState === "visible") {
      try {
        const answer = await fetch(element.dataset.live, {credentials: "same-origin"});
        if (answer.ok) {
          const text = await answer.text();
          if (text !== last) {
            last = text;
            element.innerHTML = text;
          }
          if (answer.headers.get("X-Live-Done")) {
            return;
          }
        }
      } catch (ignored) {
        // the dashboard is restarting: ask again at the next tick
      }
    }
    setTimeout(tick, every);
  };
  setTimeout(tick, every);
}
